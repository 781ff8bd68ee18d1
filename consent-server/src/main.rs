//! The `consent-server` command: serve the API, make keys and tokens, check policies, verify and
//! export receipts, record rights requests.

use std::io::{BufRead, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use consent_core::{KeySet, Policy, Timestamp, UnverifiedReceipt};
use consent_server::api;
use consent_server::clock::system_clock;
use consent_server::config::{Config, Role};
use consent_server::keys::{ServerKeys, random32};
use consent_server::privacy::{SubjectRef, token_hash};
use consent_server::store::{ExportQuery, Rights, SqliteStore, Store};
use consent_server::{AppState, app};

/// The invisionu.education policy, used when no policy file is configured.
const BUNDLED_POLICY: &str = include_str!("../../examples/invisionu/policy.toml");

#[derive(Parser)]
#[command(
    name = "consent-server",
    version,
    about = "Records consent choices as signed receipts, and serves them to auditors and data subjects."
)]
struct Cli {
    /// Configuration file (TOML); CONSENT_* environment variables override it.
    #[arg(long, global = true, env = "CONSENT_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (with nothing configured: 127.0.0.1:8080, ./consent.db, development keys,
    /// the demo site at / and the banner from ./target/banner at /consent/).
    Serve,
    /// Write a new key file (mode 0600), or rotate the keys of an existing one.
    Keygen {
        /// Key file to write.
        #[arg(long, default_value = "consent-keys.json")]
        out: PathBuf,
        /// Add new active keys to an existing file (old keys keep verifying).
        #[arg(long)]
        rotate: bool,
    },
    /// Bearer tokens for staff and services.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Policy files.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Receipts.
    Receipts {
        #[command(subcommand)]
        command: ReceiptsCommand,
    },
    /// Export receipts from the database.
    Export {
        /// Output format.
        #[arg(long, value_enum, default_value = "jsonl")]
        format: Format,
        /// Issued at or after (RFC 3339 date or date-time, or unix seconds).
        #[arg(long)]
        from: Option<String>,
        /// Issued before.
        #[arg(long)]
        to: Option<String>,
        /// Only this subject: its pseudonym (`sub:…` or `dev:…`; find it with the lookup endpoint).
        #[arg(long)]
        subject: Option<String>,
        /// Output file (default: standard output).
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// Withdraw a subject's consents (all, or --purpose), with a receipt.
    Withdraw(RightsArgs),
    /// Restrict (block) processing of a subject's data.
    Restrict(RightsArgs),
    /// Lift a restriction.
    Unblock(RightsArgs),
    /// Erase: unlink the person from their receipts (which stay verifiable).
    Erase(RightsArgs),
}

#[derive(clap::Args)]
struct RightsArgs {
    /// The subject: a pseudonym (`sub:…`, `dev:…`) or, with --id, the external id (e-mail, portal id).
    subject: String,
    /// SUBJECT is an external id to look up.
    #[arg(long)]
    id: bool,
    /// Purposes to withdraw (withdraw only; default: every consent purpose).
    #[arg(long = "purpose")]
    purposes: Vec<String>,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Make a new random bearer token and print the config entry (only its hash is stored).
    New {
        /// Role.
        #[arg(long, value_enum)]
        role: CliRole,
        /// Who holds it.
        #[arg(long)]
        name: String,
    },
    /// Print the SHA-256 of a token read from standard input.
    Hash,
    /// Print the consent-token keys as a JWK Set for backend services (secret: handle like the key file).
    Keys,
}

#[derive(Clone, Copy, ValueEnum)]
enum CliRole {
    Auditor,
    Operator,
    Service,
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Check a policy file and print every problem (exit 1 if any).
    Check {
        /// The TOML file.
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum ReceiptsCommand {
    /// Verify receipts offline: one JWS per line (or JSON Lines with a "receipt" field).
    Verify {
        /// File of receipts, or - for standard input.
        file: String,
        /// The published key set: a file, or an http:// URL (for https, download it first).
        #[arg(long)]
        jwks: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// One JSON object per line: seq, receipt_id, subject, issued_at, receipt.
    Jsonl,
    /// Kantara Consent Receipt v1.1, one JSON object per line.
    Kantara,
    /// CSV: seq, receipt_id, subject, issued_at, policy_version, method, decisions.
    Csv,
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CONSENT_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn now() -> Timestamp {
    (system_clock())().0
}

fn run(cli: Cli) -> Result<std::process::ExitCode> {
    let ok = std::process::ExitCode::SUCCESS;
    match cli.command {
        Command::Serve => serve(Config::load(cli.config.as_deref())?)?,
        Command::Keygen { out, rotate } => {
            let keys = if rotate {
                ServerKeys::rotate(&out, now())?
            } else {
                ServerKeys::generate(&out, now(), false)?
            };
            let (kid, alg) = keys.receipts.active().context("no active key")?;
            println!(
                "wrote {} (mode 0600): receipts signed with {kid} ({alg}), tokens with {}",
                out.display(),
                keys.tokens.active()
            );
        }
        Command::Token {
            command: TokenCommand::New { role, name },
        } => {
            let token = base64_token(&random32()?);
            let role = match role {
                CliRole::Auditor => "auditor",
                CliRole::Operator => "operator",
                CliRole::Service => "service",
            };
            println!("token (give it to {name}; it is not stored anywhere): {token}");
            println!(
                "\nadd to the configuration file:\n\n[[tokens]]\nname = \"{name}\"\nrole = \"{role}\"\nsha256 = \"{}\"",
                token_hash(&token)
            );
        }
        Command::Token {
            command: TokenCommand::Keys,
        } => {
            let config = Config::load(cli.config.as_deref())?;
            println!("{}", ServerKeys::load(&config.keys)?.token_jwks);
        }
        Command::Token {
            command: TokenCommand::Hash,
        } => {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            println!("{}", token_hash(line.trim()));
        }
        Command::Policy {
            command: PolicyCommand::Check { file },
        } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            match Policy::from_toml(&text) {
                Ok(p) => println!(
                    "{}: ok: policy {} version {}, {} purposes, sha256 {}",
                    file.display(),
                    p.id(),
                    p.version(),
                    p.purposes().len(),
                    p.hash()
                ),
                Err(e) => {
                    for problem in e.problems() {
                        println!("{}:{problem}", file.display());
                    }
                    eprintln!("{}: {} problem(s)", file.display(), e.problems().len());
                    return Ok(std::process::ExitCode::FAILURE);
                }
            }
        }
        Command::Receipts {
            command: ReceiptsCommand::Verify { file, jwks },
        } => return verify(&file, &jwks),
        Command::Export {
            format,
            from,
            to,
            subject,
            out,
        } => {
            let config = Config::load(cli.config.as_deref())?;
            export(
                &config,
                format,
                from.as_deref(),
                to.as_deref(),
                subject,
                out.as_deref(),
            )?;
        }
        Command::Withdraw(a) => rights(cli.config.as_deref(), a, None)?,
        Command::Restrict(a) => rights(cli.config.as_deref(), a, Some(Rights::Restrict))?,
        Command::Unblock(a) => rights(cli.config.as_deref(), a, Some(Rights::Unblock))?,
        Command::Erase(a) => rights(cli.config.as_deref(), a, Some(Rights::Erase))?,
    }
    Ok(ok)
}

fn base64_token(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn load_policies(config: &Config) -> Result<(Policy, Vec<Policy>)> {
    let load = |path: &Path| -> Result<Policy> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read policy {}", path.display()))?;
        Policy::from_toml(&text).with_context(|| format!("policy {}", path.display()))
    };
    let current = match &config.policy {
        Some(p) => load(p)?,
        None => Policy::from_toml(BUNDLED_POLICY).context("bundled policy")?,
    };
    let previous = config
        .previous_policies
        .iter()
        .map(|p| load(p))
        .collect::<Result<Vec<_>>>()?;
    Ok((current, previous))
}

fn load_keys(config: &Config) -> Result<ServerKeys> {
    if config.keys.exists() {
        return Ok(ServerKeys::load(&config.keys)?);
    }
    if !config.development_keys {
        bail!(
            "key file {} does not exist: create it with `consent-server keygen --out {}`",
            config.keys.display(),
            config.keys.display()
        );
    }
    let keys = ServerKeys::generate(&config.keys, now(), true)?;
    tracing::warn!("************************************************************************");
    tracing::warn!(
        "GENERATED DEVELOPMENT KEYS in {} (mode 0600).",
        config.keys.display()
    );
    tracing::warn!("Fine for trying things out; for production run `consent-server keygen`,");
    tracing::warn!("set `development_keys = false` and keep the key file secret and backed up.");
    tracing::warn!("************************************************************************");
    Ok(keys)
}

/// Builds the state the server and the offline staff commands share.
async fn state(mut config: Config) -> Result<AppState> {
    let (policy, previous) = load_policies(&config)?;
    let keys = load_keys(&config)?;
    if config.tokens.is_empty() && keys.development && config.development_keys {
        // Development convenience: one token per role, printed once, never stored in clear.
        for (role, name) in [
            (Role::Auditor, "dev-auditor"),
            (Role::Operator, "dev-operator"),
            (Role::Service, "dev-service"),
        ] {
            let token = format!("{name}-{}", base64_token(&random32()?[..12]));
            tracing::warn!("development bearer token for role {role:?}: {token}");
            config.tokens.push(consent_server::config::StaffToken {
                name: name.into(),
                role,
                sha256: token_hash(&token),
            });
        }
    }
    let store = SqliteStore::open(&config.database)
        .with_context(|| format!("cannot open database {}", config.database.display()))?;
    let store: Arc<dyn Store> = Arc::new(store);
    for p in std::iter::once(&policy).chain(previous.iter()) {
        store
            .submit(consent_server::store::Write::Policy {
                version: p.version(),
                sha256: p.hash(),
                canonical: p.canonical_json(),
            })?
            .await?
            .with_context(|| {
                format!(
                    "cannot use policy {} with database {}: a published policy version never changes \
                     (receipts cite its hash); publish the edited policy under a new version date (its \
                     \"last updated\" date), or start a new database",
                    p.version(),
                    config.database.display()
                )
            })?;
    }
    Ok(AppState::new(
        store,
        policy,
        previous,
        keys,
        config,
        system_clock(),
    ))
}

fn serve(config: Config) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listen = config.listen;
        let state = state(config).await?;
        let store = Arc::clone(&state.store);
        tracing::info!(
            policy = %state.policy.version(),
            sha256 = %state.policy.hash(),
            database = %state.config.database.display(),
            "consent-server listening on http://{listen}"
        );
        consent_server::site::log_startup(&state.config);
        tokio::spawn({
            let state = state.clone();
            async move { state.prepare().await }
        });
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let app = app(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown_signal())
            .await?;
        tracing::info!("no more requests in flight; committing queued writes");
        tokio::task::spawn_blocking(move || store.close()).await?;
        tracing::info!("stopped");
        Ok(())
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown requested: finishing in-flight requests");
}

fn fetch_jwks(source: &str) -> Result<String> {
    if let Some(rest) = source.strip_prefix("http://") {
        use std::io::Read as _;
        let (host, path) = rest.split_once('/').map_or((rest, "/"), |(h, p)| (h, p));
        let mut stream = std::net::TcpStream::connect(host)
            .with_context(|| format!("cannot connect to {host}"))?;
        write!(
            stream,
            "GET /{} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nAccept: application/json\r\n\r\n",
            path.trim_start_matches('/')
        )?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        let (head, body) = response
            .split_once("\r\n\r\n")
            .context("malformed HTTP response")?;
        if !head.starts_with("HTTP/1.1 200") {
            bail!("{source}: {}", head.lines().next().unwrap_or_default());
        }
        return Ok(body.to_owned());
    }
    if source.starts_with("https://") {
        bail!(
            "fetch {source} first (e.g. curl -sO {source}) and pass the file: this command does not speak TLS"
        );
    }
    std::fs::read_to_string(source).with_context(|| format!("cannot read {source}"))
}

fn verify(file: &str, jwks: &str) -> Result<std::process::ExitCode> {
    let keys = KeySet::from_jwks_json(&fetch_jwks(jwks)?).context("key set")?;
    let reader: Box<dyn BufRead> = if file == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(file).with_context(|| format!("cannot open {file}"))?,
        ))
    };
    let (mut ok, mut bad) = (0u64, 0u64);
    let started = std::time::Instant::now();
    for (i, line) in reader.lines().enumerate() {
        let line = line?;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let jws = if line.starts_with('{') {
            serde_json::from_str::<serde_json::Value>(line)
                .ok()
                .and_then(|v| v.get("receipt").and_then(|r| r.as_str()).map(str::to_owned))
                .unwrap_or_default()
        } else {
            line.to_owned()
        };
        match UnverifiedReceipt::parse(&jws).and_then(|r| r.verify(&keys)) {
            Ok(_) => ok += 1,
            Err(e) => {
                bad += 1;
                println!("line {}: INVALID: {e}", i + 1);
            }
        }
        if (ok + bad) % 10_000 == 0 {
            eprintln!(
                "… {} receipts checked ({ok} valid, {bad} invalid)",
                ok + bad
            );
        }
    }
    eprintln!(
        "{ok} valid, {bad} invalid receipt(s) in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(if bad == 0 && ok > 0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    })
}

fn parse_time(s: &str) -> Result<i64> {
    if let Ok(n) = s.parse::<i64>() {
        return Ok(n);
    }
    let date: consent_core::Date = s
        .get(..10)
        .unwrap_or(s)
        .parse()
        .with_context(|| format!("`{s}` is not a date, date-time or unix time"))?;
    let mut t = date.start().as_unix();
    if let Some(rest) = s.get(10..).filter(|r| !r.is_empty()) {
        let hms = rest.trim_start_matches('T').trim_end_matches('Z');
        let parts: Vec<i64> = hms
            .split(':')
            .map(|p| p.parse())
            .collect::<Result<_, _>>()
            .with_context(|| format!("bad time in `{s}`"))?;
        t += parts.first().copied().unwrap_or(0) * 3600
            + parts.get(1).copied().unwrap_or(0) * 60
            + parts.get(2).copied().unwrap_or(0);
    }
    Ok(t)
}

/// Offline commands work on an existing installation: they never create a database or keys.
fn require_installation(config: &Config) -> Result<()> {
    for (what, path) in [("database", &config.database), ("key file", &config.keys)] {
        if !path.exists() {
            bail!(
                "{what} {} does not exist: run this in the server's directory, or pass --config",
                path.display()
            );
        }
    }
    Ok(())
}

fn export(
    config: &Config,
    format: Format,
    from: Option<&str>,
    to: Option<&str>,
    subject: Option<String>,
    out: Option<&Path>,
) -> Result<()> {
    let store = SqliteStore::open(&config.database)
        .with_context(|| format!("cannot open {}", config.database.display()))?;
    require_installation(config)?;
    let keys = ServerKeys::load(&config.keys)?;
    let (policy, previous) = load_policies(config)?;
    let mut policies: std::collections::BTreeMap<_, _> =
        previous.into_iter().map(|p| (p.version(), p)).collect();
    policies.insert(policy.version(), policy);
    let q = ExportQuery {
        from: from.map(parse_time).transpose()?.map(Timestamp::from_unix),
        to: to.map(parse_time).transpose()?.map(Timestamp::from_unix),
        subject: subject
            .map(|s| s.parse::<SubjectRef>())
            .transpose()
            .map_err(|e| anyhow::anyhow!("subject: {e}"))?,
        after_seq: None,
        limit: None,
    };
    let mut w: Box<dyn std::io::Write> = match out {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    if matches!(format, Format::Csv) {
        writeln!(
            w,
            "seq,receipt_id,subject,issued_at,policy_version,method,decisions"
        )?;
    }
    let started = std::time::Instant::now();
    let mut failed: Option<anyhow::Error> = None;
    let mut skipped = 0u64;
    let n = store.export(&q, &mut |r| {
        let mut skip = false;
        let line = match format {
            Format::Jsonl => Ok(api::export_line(&r).to_string()),
            Format::Kantara | Format::Csv => UnverifiedReceipt::parse(&r.jws)
                .and_then(|u| u.verify(&keys.receipts))
                .map_err(anyhow::Error::from)
                .and_then(|v| {
                    let p = v.payload();
                    if matches!(format, Format::Csv) {
                        let decisions: Vec<String> = p
                            .decisions
                            .iter()
                            .map(|(k, c)| format!("{k}={c}"))
                            .collect();
                        Ok(format!(
                            "{},{},{},{},{},{},{}",
                            r.seq,
                            r.id,
                            r.subject,
                            p.iat,
                            p.policy.version,
                            p.method,
                            decisions.join(";")
                        ))
                    } else {
                        match policies.get(&p.policy.version) {
                            Some(policy) => Ok(v.to_kantara(policy)?.to_string()),
                            None => {
                                skip = true;
                                Err(anyhow::anyhow!(
                                    "policy {} is not configured (add it to previous_policies)",
                                    p.policy.version
                                ))
                            }
                        }
                    }
                }),
        };
        match line.and_then(|l| Ok(writeln!(w, "{l}")?)) {
            Ok(()) => {}
            Err(e) if skip => {
                skipped += 1;
                eprintln!("receipt {}: skipped: {e}", r.id);
            }
            Err(e) => {
                failed = Some(e);
                return false;
            }
        }
        if r.seq.0 % 10_000 == 0 {
            eprintln!("… {} receipts exported", r.seq);
        }
        true
    })?;
    w.flush()?;
    if let Some(e) = failed {
        return Err(e);
    }
    eprintln!(
        "exported {} receipt(s) ({skipped} skipped) in {:.1}s",
        n - skipped,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn rights(config_path: Option<&Path>, a: RightsArgs, what: Option<Rights>) -> Result<()> {
    let config = Config::load(config_path)?;
    require_installation(&config)?;
    if let (Some(r), false) = (what, a.purposes.is_empty()) {
        bail!(
            "--purpose is for withdraw only; {} applies to the whole subject",
            r.as_str()
        );
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let state = state(config).await?;
        let subject: SubjectRef = if a.id {
            api::find_subject(&state, &a.subject)
                .map_err(|e| anyhow::anyhow!(e.message))?
                .context("no subject with this id (never recorded, or already erased)")?
        } else {
            a.subject
                .parse()
                .map_err(|e: String| anyhow::anyhow!("subject: {e}"))?
        };
        match what {
            None => {
                let purposes = if a.purposes.is_empty() {
                    None
                } else {
                    Some(
                        a.purposes
                            .iter()
                            .map(|p| p.parse())
                            .collect::<Result<Vec<_>, _>>()
                            .context("purpose")?,
                    )
                };
                let out = api::staff_withdraw(&state, subject, purposes)
                    .await
                    .map_err(|e| anyhow::anyhow!(e.message))?;
                println!("{}", serde_json::to_string_pretty(&out)?);
            }
            Some(r) => {
                let at = api::staff_rights(&state, subject, r)
                    .await
                    .map_err(|e| anyhow::anyhow!(e.message))?;
                println!("{} {subject} at {at}", r.as_str());
            }
        }
        let store = Arc::clone(&state.store);
        tokio::task::spawn_blocking(move || store.close()).await?;
        Ok(())
    })
}
