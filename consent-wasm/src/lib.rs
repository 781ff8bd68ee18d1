//! The invisionu.education cookie banner (WebAssembly). Built in its own issue; for now this crate only
//! proves that the consent model compiles and links for `wasm32-unknown-unknown` without the TOML loader.

pub use consent_core::{ConsentState, Decision, PurposeId};
