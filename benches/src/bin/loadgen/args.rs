//! The command line: clap's parser, then [`Options`] with `--quick`'s defaults resolved.

use std::path::PathBuf;

use clap::Parser;
use clap::builder::RangedU64ValueParser;

/// loadgen: load test of consent-server (POST /v1/consents) and the database's write ceiling.
///
/// Starts the consent-server binary on a loopback port with a fresh temporary database (SQLite,
/// or a fresh schema of the PostgreSQL database --database names, with --instances servers on
/// it), drives it (max throughput, then a fixed rate), inserts the same rows straight into the
/// database (the ceiling), and prints the results against the targets.
#[derive(Debug, Parser)]
#[command(name = "loadgen", args_override_self = true)]
pub(crate) struct Args {
    /// consent-server binary [default: target/release/consent-server] (build it first: cargo
    /// build --release -p consent-server)
    #[arg(long, value_name = "PATH")]
    server: Option<PathBuf>,

    /// Run `cargo build --release -p consent-server` first
    #[arg(long)]
    build: bool,

    /// Connections of the max-throughput phase [default: 64; --quick: 8]
    #[arg(long, value_name = "N", value_parser = RangedU64ValueParser::<usize>::new().range(1..=10_000))]
    connections: Option<usize>,

    /// Length of each HTTP phase, seconds [default: 10; --quick: 2]
    #[arg(long, value_name = "SECS", value_parser = seconds(0.1, 3600.0))]
    duration: Option<f64>,

    /// Requests/s of the fixed-rate phase [default: 2000; --quick: 500]
    #[arg(long, value_name = "R", value_parser = within(1.0, 1_000_000.0, "requests/s"))]
    rate: Option<f64>,

    /// Warm-up before the max-throughput phase, not counted, seconds [default: 1; --quick: 0.5]
    #[arg(long, value_name = "SECS", value_parser = seconds(0.0, 600.0))]
    warmup: Option<f64>,

    /// Length of each ceiling measurement, seconds [default: 3; --quick: 0.5]
    #[arg(long, value_name = "S", value_parser = seconds(0.1, 600.0))]
    ceiling_secs: Option<f64>,

    /// Threads of the load generator [default: 1]
    #[arg(long, value_name = "N", default_value_t = 1, hide_default_value = true,
          value_parser = RangedU64ValueParser::<usize>::new().range(1..=64))]
    client_threads: usize,

    /// Comma-separated subset of max,rate,ceiling [default: all]
    #[arg(long, value_name = "LIST", value_parser = phases)]
    phases: Option<Phases>,

    /// Where the temporary databases go [default: the system temp dir]
    #[arg(long, value_name = "PATH")]
    dir: Option<PathBuf>,

    /// Loopback port of the server [default: a free one]
    #[arg(long, value_name = "P")]
    port: Option<u16>,

    /// Keep the temporary directory (database, keys, server log)
    #[arg(long)]
    keep: bool,

    /// Also write the results as JSON to PATH
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,

    /// Smoke test: 2 s phases, 8 connections, 500 req/s, short ceiling (options given with it win)
    #[arg(long)]
    quick: bool,

    /// Each request names a new random device (`subject.device`), which costs the server a
    /// lookup (has it a choice already?); by default requests name none, as the banner's first
    /// choice, and the server draws the device id
    #[arg(long)]
    device_ids: bool,

    /// Give the servers one webhook subscription, to `consent.expired`: every receipt then also
    /// writes an outbox row per purpose given (and cancels the subject's earlier ones), due when the
    /// consent lapses, so nothing is sent during the run
    #[arg(long)]
    webhook_expiries: bool,

    /// Run on PostgreSQL instead of SQLite: a postgres:// URL of a role that may create schemas
    /// (the run works in fresh schemas of that database and drops them at the end)
    #[arg(long, value_name = "URL", value_parser = postgres_url)]
    database: Option<String>,

    /// consent-server instances on the one PostgreSQL database, sharing one key file; the
    /// clients are spread over them [default: 1]
    #[arg(long, value_name = "N", requires = "database",
          value_parser = RangedU64ValueParser::<usize>::new().range(1..=16))]
    instances: Option<usize>,
}

/// Which phases run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Phases {
    /// Max throughput (closed loop).
    pub(crate) max: bool,
    /// Fixed rate (open loop).
    pub(crate) rate: bool,
    /// The database alone.
    pub(crate) ceiling: bool,
}

impl Phases {
    const ALL: Phases = Phases {
        max: true,
        rate: true,
        ceiling: true,
    };

    /// Whether a server is needed.
    pub(crate) fn http(self) -> bool {
        self.max || self.rate
    }
}

/// The options of a run, defaults resolved.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Options {
    pub(crate) server: Option<PathBuf>,
    pub(crate) build: bool,
    pub(crate) connections: usize,
    /// Seconds.
    pub(crate) duration: f64,
    /// Requests/s.
    pub(crate) rate: f64,
    /// Seconds.
    pub(crate) warmup: f64,
    /// Seconds.
    pub(crate) ceiling_secs: f64,
    pub(crate) client_threads: usize,
    pub(crate) phases: Phases,
    pub(crate) dir: Option<PathBuf>,
    pub(crate) port: Option<u16>,
    pub(crate) keep: bool,
    pub(crate) json: Option<PathBuf>,
    pub(crate) quick: bool,
    /// Requests name a random device.
    pub(crate) device_ids: bool,
    /// The servers have a webhook subscription to `consent.expired`.
    pub(crate) webhook_expiries: bool,
    /// PostgreSQL (a `postgres://` URL), or SQLite when `None`.
    pub(crate) database: Option<String>,
    /// Server instances (more than one only on PostgreSQL).
    pub(crate) instances: usize,
}

impl Args {
    /// The options, with the defaults of a full or a `--quick` run where none was given.
    pub(crate) fn options(self) -> Options {
        let q = self.quick;
        Options {
            server: self.server,
            build: self.build,
            connections: self.connections.unwrap_or(if q { 8 } else { 64 }),
            duration: self.duration.unwrap_or(if q { 2.0 } else { 10.0 }),
            rate: self.rate.unwrap_or(if q { 500.0 } else { 2000.0 }),
            warmup: self.warmup.unwrap_or(if q { 0.5 } else { 1.0 }),
            ceiling_secs: self.ceiling_secs.unwrap_or(if q { 0.5 } else { 3.0 }),
            client_threads: self.client_threads,
            phases: self.phases.unwrap_or(Phases::ALL),
            dir: self.dir,
            port: self.port,
            keep: self.keep,
            json: self.json,
            quick: q,
            device_ids: self.device_ids,
            webhook_expiries: self.webhook_expiries,
            database: self.database,
            instances: self.instances.unwrap_or(1),
        }
    }
}

/// A URL the server would take as PostgreSQL (its own parser), without `options` (loadgen sets
/// `search_path` there).
fn postgres_url(text: &str) -> Result<String, String> {
    consent_server::store::PostgresUrl::parse(text)?;
    let query = text.split_once('?').map_or("", |(_, q)| q);
    if query.split('&').any(|p| p.starts_with("options=")) {
        return Err("loadgen sets `options` itself (the schema of the run): leave it out".into());
    }
    Ok(text.to_owned())
}

/// A number of seconds from `min` to `max`.
fn seconds(min: f64, max: f64) -> impl Fn(&str) -> Result<f64, String> + Clone {
    within(min, max, "seconds")
}

/// A number from `min` to `max` (NaN is not).
fn within(min: f64, max: f64, unit: &'static str) -> impl Fn(&str) -> Result<f64, String> + Clone {
    move |text| {
        let v: f64 = text
            .trim()
            .parse()
            .map_err(|_| format!("`{text}` is not a valid number"))?;
        if (min..=max).contains(&v) {
            Ok(v)
        } else {
            Err(format!("must be {min} to {max} {unit}"))
        }
    }
}

/// `max,rate,ceiling` or any subset; blanks around names and empty items are ignored.
fn phases(list: &str) -> Result<Phases, String> {
    let mut p = Phases {
        max: false,
        rate: false,
        ceiling: false,
    };
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        match name {
            "max" => p.max = true,
            "rate" => p.rate = true,
            "ceiling" => p.ceiling = true,
            other => return Err(format!("unknown phase `{other}` (max, rate, ceiling)")),
        }
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn parse(args: &[&str]) -> Result<Options, clap::Error> {
        Args::try_parse_from(std::iter::once("loadgen").chain(args.iter().copied()))
            .map(Args::options)
    }

    #[test]
    fn the_command_is_well_formed() {
        Args::command().debug_assert();
    }

    #[test]
    fn defaults_of_a_full_run() {
        let o = parse(&[]).unwrap();
        assert_eq!(
            o,
            Options {
                server: None,
                build: false,
                connections: 64,
                duration: 10.0,
                rate: 2000.0,
                warmup: 1.0,
                ceiling_secs: 3.0,
                client_threads: 1,
                phases: Phases::ALL,
                dir: None,
                port: None,
                keep: false,
                json: None,
                quick: false,
                device_ids: false,
                webhook_expiries: false,
                database: None,
                instances: 1,
            }
        );
    }

    #[test]
    fn quick_sets_short_defaults_and_explicit_options_win_in_any_order() {
        let o = parse(&["--quick"]).unwrap();
        assert_eq!(
            (o.connections, o.duration, o.rate, o.warmup, o.ceiling_secs),
            (8, 2.0, 500.0, 0.5, 0.5)
        );
        assert!(o.quick);
        for args in [
            &["--connections", "16", "--quick"][..],
            &["--quick", "--connections=16"],
        ] {
            let o = parse(args).unwrap();
            assert_eq!((o.connections, o.duration), (16, 2.0));
        }
    }

    #[test]
    fn every_option_is_read() {
        let o = parse(&[
            "--server=/x/consent-server",
            "--build",
            "--connections",
            "3",
            "--duration",
            "0.5",
            "--rate",
            "100",
            "--warmup",
            "0",
            "--ceiling-secs",
            "0.2",
            "--client-threads",
            "2",
            "--phases",
            " rate, ceiling,",
            "--dir",
            "d",
            "--port",
            "8099",
            "--keep",
            "--json",
            "out.json",
            "--device-ids",
            "--webhook-expiries",
        ])
        .unwrap();
        assert!(o.device_ids && o.webhook_expiries);
        assert_eq!(o.server, Some(PathBuf::from("/x/consent-server")));
        assert!(o.build && o.keep && !o.quick);
        assert_eq!(
            (o.connections, o.client_threads, o.port),
            (3, 2, Some(8099))
        );
        assert_eq!(
            (o.duration, o.rate, o.warmup, o.ceiling_secs),
            (0.5, 100.0, 0.0, 0.2)
        );
        assert_eq!(
            o.phases,
            Phases {
                max: false,
                rate: true,
                ceiling: true
            }
        );
        assert!(o.phases.http());
        assert_eq!(o.dir, Some(PathBuf::from("d")));
        assert_eq!(o.json, Some(PathBuf::from("out.json")));
    }

    #[test]
    fn postgres_takes_a_url_and_instances_need_it() {
        let o = parse(&[
            "--database",
            "postgres://bench@127.0.0.1:5432/consent?sslmode=disable",
            "--instances",
            "3",
        ])
        .unwrap();
        assert_eq!(
            o.database.as_deref(),
            Some("postgres://bench@127.0.0.1:5432/consent?sslmode=disable")
        );
        assert_eq!(o.instances, 3);
        for args in [
            &["--instances", "2"][..],
            &["--database", "consent.db"],
            &["--database", "postgres://h/db?sslmode=sometimes"],
            &["--database", "postgres://h/db?options=-c%20x%3D1"],
            &["--database", "postgres://h/db", "--instances", "0"],
            &["--database", "postgres://h/db", "--instances", "17"],
        ] {
            let e = parse(args).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{args:?}: {e}");
        }
        let e = parse(&["--instances", "2"]).unwrap_err().to_string();
        assert!(e.contains("--database"), "{e}");
    }

    #[test]
    fn the_last_of_a_repeated_option_wins() {
        let o = parse(&["--rate", "10", "--rate", "20", "--keep", "--keep"]).unwrap();
        assert_eq!(o.rate, 20.0);
        assert!(o.keep);
    }

    #[test]
    fn phases_can_be_none_or_ceiling_only() {
        assert!(!parse(&["--phases", ""]).unwrap().phases.http());
        let p = parse(&["--phases", "ceiling"]).unwrap().phases;
        assert!(p.ceiling && !p.http());
    }

    #[test]
    fn out_of_range_and_unknown_values_are_refused() {
        for args in [
            &["--connections", "0"][..],
            &["--connections", "10001"],
            &["--client-threads", "65"],
            &["--duration", "0.05"],
            &["--duration", "NaN"],
            &["--rate", "0.5"],
            &["--warmup", "-1"],
            &["--ceiling-secs", "601"],
            &["--port", "70000"],
            &["--phases", "max,fast"],
            &["--rate"],
            &["--turbo"],
        ] {
            let e = parse(args).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{args:?}: {e}");
        }
        let e = parse(&["--phases", "max,fast"]).unwrap_err().to_string();
        assert!(e.contains("unknown phase `fast`"), "{e}");
        let e = parse(&["--duration", "9000"]).unwrap_err().to_string();
        assert!(e.contains("must be 0.1 to 3600 seconds"), "{e}");
    }

    #[test]
    fn help_names_every_option() {
        let help = Args::command().render_long_help().to_string();
        for flag in [
            "--server",
            "--build",
            "--connections",
            "--duration",
            "--rate",
            "--warmup",
            "--ceiling-secs",
            "--client-threads",
            "--phases",
            "--dir",
            "--port",
            "--keep",
            "--json",
            "--quick",
            "--device-ids",
            "--database",
            "--instances",
            "--help",
        ] {
            assert!(help.contains(flag), "{flag} missing from:\n{help}");
        }
    }
}
