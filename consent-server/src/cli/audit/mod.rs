//! `consent-server audit`: an auditor's and a witness's check of the consent log, from outside the
//! server (its HTTP endpoints, or a directory in the same layout).
//!
//! - `verify`: one full check, counts, non-zero exit naming each problem;
//! - `witness`: the same check repeated, and a cosignature (C2SP tlog-cosignature) of each checkpoint
//!   that passes, sent to the server.

mod source;
mod state;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use consent_core::KeySet;
use consent_core::tlog::{Cosigner, KeyName, NoteVerifier};

use self::source::Source;
use self::state::State;

/// What the log check reads.
#[derive(clap::Args)]
pub(crate) struct LogArgs {
    /// The log: the server's log URL (`https://host/log`) or a directory with the same layout.
    #[arg(long)]
    log: String,
    /// The receipts' key set: a JWK Set file, or its URL (`https://host/.well-known/jwks.json`).
    #[arg(long)]
    jwks: String,
    /// State file: the log's key and every checkpoint verified before (created if missing). Without
    /// it, rollbacks and forks since an earlier run cannot be seen.
    #[arg(long)]
    state: Option<PathBuf>,
    /// The log's vkey; default: the one pinned in the state file, else the log's `key` (trusted on
    /// first use, then pinned).
    #[arg(long)]
    log_key: Option<String>,
    /// A witness's vkey whose cosignatures must verify where present (repeatable).
    #[arg(long = "witness-key")]
    witness_keys: Vec<String>,
    /// An auditor's bearer token, for the entry bundles.
    #[arg(long, env = "CONSENT_AUDIT_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

/// `audit` commands.
#[derive(clap::Subcommand)]
pub(crate) enum Command {
    /// Check the whole log once: every entry's signature, the tree, the checkpoint, and consistency with
    /// every checkpoint seen before. Exit status 1 names each problem found.
    Verify(LogArgs),
    /// Check the log repeatedly, and cosign (C2SP tlog-cosignature) each checkpoint that passes,
    /// sending the cosignature to the server.
    Witness {
        #[command(flatten)]
        log: LogArgs,
        /// The witness's key name (`witness.example.org/w1`).
        #[arg(long)]
        name: String,
        /// The witness's key file (an Ed25519 seed, base64url; created with mode 0600 if missing).
        #[arg(long)]
        key: PathBuf,
        /// Seconds between checks.
        #[arg(long, default_value_t = 60)]
        every: u64,
        /// Check and cosign once, then exit.
        #[arg(long)]
        once: bool,
    },
}

pub(crate) fn run(command: Command) -> Result<ExitCode> {
    match command {
        Command::Verify(args) => {
            let ok = check(&args, None)?;
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Witness {
            log,
            name,
            key,
            every,
            once,
        } => {
            let name: KeyName = name.parse().context("--name")?;
            let cosigner = Cosigner::from_seed(name, witness_seed(&key)?);
            eprintln!("witness key: {}", cosigner.verifier());
            loop {
                let ok = match check(&log, Some(&cosigner)) {
                    Ok(ok) => ok,
                    Err(e) if !once => {
                        eprintln!("error: {e:#}");
                        false
                    }
                    Err(e) => return Err(e),
                };
                if once {
                    return Ok(if ok {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::from(1)
                    });
                }
                std::thread::sleep(Duration::from_secs(every.max(1)));
            }
        }
    }
}

/// The witness's seed from its key file, made if missing.
fn witness_seed(path: &std::path::Path) -> Result<[u8; 32]> {
    if !path.exists() {
        let seed = consent_server::keys::random32()?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        use std::io::Write as _;
        options
            .open(path)
            .and_then(|mut f| f.write_all(URL_SAFE_NO_PAD.encode(seed).as_bytes()))
            .with_context(|| format!("cannot write {}", path.display()))?;
        return Ok(seed);
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    URL_SAFE_NO_PAD
        .decode(text.trim())
        .ok()
        .and_then(|v| v.try_into().ok())
        .with_context(|| format!("{}: not 32 bytes of base64url", path.display()))
}

/// One check; with a cosigner, cosigns the checkpoint if it passed. Prints counts to stdout and problems
/// to stderr; true if nothing is wrong.
fn check(args: &LogArgs, cosigner: Option<&Cosigner>) -> Result<bool> {
    let src = Source::new(&args.log, args.token.clone())?;
    let keys =
        KeySet::from_jwks_json(&super::receipts::fetch_jwks(&args.jwks)?).context("the key set")?;
    let mut state = match &args.state {
        Some(p) => State::load(p)?,
        None => State::default(),
    };
    let log_key = match (&args.log_key, &state.log_key) {
        (Some(k), Some(pinned)) if k != pinned => {
            bail!("--log-key is not the key pinned in the state file ({pinned})")
        }
        (Some(k), _) => k.clone(),
        (None, Some(pinned)) => pinned.clone(),
        (None, None) => {
            let k = src.text("key")?.trim().to_owned();
            eprintln!("the log's key, trusted on first use: {k}");
            k
        }
    };
    let log_verifier: NoteVerifier = log_key.parse().context("the log's key")?;
    let witnesses = args
        .witness_keys
        .iter()
        .map(|w| w.parse().with_context(|| format!("witness key {w}")))
        .collect::<Result<Vec<NoteVerifier>>>()?;
    let audit = verify::verify(&src, &keys, &log_verifier, &witnesses, &state.checkpoints)?;
    let cp = audit.checkpoint.checkpoint();
    println!(
        "checkpoint: {}, {} entries, root {}{}",
        cp.origin(),
        cp.size(),
        cp.root(),
        audit
            .checkpoint
            .cosignatures()
            .iter()
            .map(|c| format!(", cosigned by {}", c.name))
            .collect::<String>()
    );
    let rights: Vec<String> = audit
        .rights
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    println!(
        "entries checked: {} (receipts {}, rights events {}{})",
        audit.entries,
        audit.receipts,
        audit.rights.values().sum::<u64>(),
        if rights.is_empty() {
            String::new()
        } else {
            format!(": {}", rights.join(", "))
        }
    );
    if audit.redacted > 0 {
        println!(
            "{} entries redacted by erasure (version 1 receipts that named a person; each accounted \
             for by its logged erasure)",
            audit.redacted
        );
    }
    if audit.redacted_before_log > 0 {
        println!(
            "{} entries redacted before the log (version 1 receipts already redacted when the log \
             numbered them: their bytes are the ones logged, but no logged erasure accounts for them)",
            audit.redacted_before_log
        );
    }
    let earlier = state.checkpoints.len();
    if !audit.problems.is_empty() {
        eprintln!(
            "the log does NOT check out: {} problem(s)",
            audit.problems.len()
        );
        for p in &audit.problems {
            eprintln!("  - {p}");
        }
        return Ok(false);
    }
    println!(
        "ok: every entry verifies and is the one logged, the tree has the checkpoint's root, and the \
         log extends the {earlier} checkpoint(s) seen before"
    );
    let now = super::now().as_unix();
    state.log_key = Some(log_key);
    state.saw(cp.size(), cp.root().to_base64(), now);
    if let Some(p) = &args.state {
        state.save(p)?;
    }
    if let Some(w) = cosigner {
        let mut cosigned = audit.checkpoint.clone();
        let line = w
            .cosign(&audit.checkpoint, u64::try_from(now).unwrap_or(0))
            .context("cosigning")?;
        cosigned
            .add_cosignature(line, &w.verifier())
            .context("cosigning")?;
        src.post("cosignature", cosigned.to_string())?;
        println!("cosigned the checkpoint of {} entries", cp.size());
    }
    Ok(true)
}
