//! consent-server: records, signs and serves consents. Built in its own issue; until then
//! `cargo run -p invisionu-demo` is the product's demo.

fn main() {
    eprintln!(
        "consent-server is not built yet; run `cargo run -p invisionu-demo` for the consent model demo"
    );
    std::process::exit(2);
}
