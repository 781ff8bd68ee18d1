//! Where the auditor reads the log from: a server (`https://host/log/`, with an auditor's token for
//! the entry bundles) or a directory in the same layout (`checkpoint`, `key`, `tile/…`).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// A log to read.
pub(crate) enum Source {
    /// Base URL ending in `/`.
    Http {
        base: String,
        token: Option<String>,
        client: reqwest::blocking::Client,
    },
    /// A directory.
    Dir(PathBuf),
}

impl Source {
    /// `https://host/log`, `http://…` or a directory.
    pub(crate) fn new(log: &str, token: Option<String>) -> Result<Source> {
        if log.starts_with("http://") || log.starts_with("https://") {
            let mut base = log.to_owned();
            if !base.ends_with('/') {
                base.push('/');
            }
            let client = reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .context("HTTP client")?;
            Ok(Source::Http {
                base,
                token,
                client,
            })
        } else {
            let dir = PathBuf::from(log);
            if !dir.is_dir() {
                bail!("{log} is neither an http(s) URL nor a directory");
            }
            Ok(Source::Dir(dir))
        }
    }

    /// The file at `path` (relative to the log), `None` if there is none (404, no such file).
    pub(crate) fn get(&self, path: &str) -> Result<Option<Vec<u8>>> {
        match self {
            Source::Dir(dir) => match std::fs::read(dir.join(path)) {
                Ok(b) => Ok(Some(b)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e).with_context(|| format!("cannot read {path}")),
            },
            Source::Http {
                base,
                token,
                client,
            } => {
                let url = format!("{base}{path}");
                let mut req = client.get(&url);
                if let Some(t) = token {
                    req = req.bearer_auth(t);
                }
                let r = req.send().with_context(|| format!("cannot fetch {url}"))?;
                let status = r.status();
                if status == reqwest::StatusCode::NOT_FOUND {
                    return Ok(None);
                }
                if !status.is_success() {
                    bail!("{url}: HTTP {status}");
                }
                Ok(Some(
                    r.bytes()
                        .with_context(|| format!("reading {url}"))?
                        .to_vec(),
                ))
            }
        }
    }

    /// Text at `path`, which must exist.
    pub(crate) fn text(&self, path: &str) -> Result<String> {
        let bytes = self
            .get(path)?
            .with_context(|| format!("the log has no {path}"))?;
        String::from_utf8(bytes).with_context(|| format!("{path} is not UTF-8"))
    }

    /// Posts `body` to `path` (servers only): a witness's cosigned checkpoint.
    pub(crate) fn post(&self, path: &str, body: String) -> Result<String> {
        let Source::Http { base, client, .. } = self else {
            bail!("cosignatures are sent to a server, not a directory");
        };
        let url = format!("{base}{path}");
        let r = client
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "text/plain")
            .body(body)
            .send()
            .with_context(|| format!("cannot post to {url}"))?;
        let status = r.status();
        let text = r.text().unwrap_or_default();
        if !status.is_success() {
            bail!("{url}: HTTP {status}: {text}");
        }
        Ok(text)
    }
}
