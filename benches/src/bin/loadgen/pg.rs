//! The PostgreSQL database of a run (`--database`): a fresh schema for each store (the servers'
//! and each ceiling measurement's), named `loadgen_<pid>_<time>_<what>`, reached through
//! `search_path` in the URL it is given to, and dropped at the end of the run (kept with `--keep`).
//!
//! Connections are made with consent-server's own [`PostgresUrl::connect`] (the URL's TLS mode and
//! CA file, the server's session settings), so the ceiling pays for what the server pays for.

use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result, anyhow};
use consent_server::store::PostgresUrl;

/// Runs `f` with a connection to `url` on a runtime of its own, on a thread of its own: callable
/// from anywhere (loadgen's async code, `Drop`).
pub(crate) fn with_client<T: Send + 'static>(
    url: &str,
    f: impl AsyncFnOnce(&tokio_postgres::Client) -> Result<T> + Send + 'static,
) -> Result<T> {
    let parsed = PostgresUrl::parse(url).map_err(|e| anyhow!("--database: {e}"))?;
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async move {
            let client = parsed
                .connect()
                .await
                .with_context(|| format!("cannot connect to {parsed}"))?;
            f(&client).await
        })
    })
    .join()
    .map_err(|_| anyhow!("the PostgreSQL thread panicked"))?
}

/// A fresh schema of the run, dropped when this is dropped (unless kept).
pub(crate) struct Schema {
    admin: String,
    name: String,
    url: String,
    keep: bool,
}

impl Schema {
    /// A new empty schema in the database of `admin` (a URL without `options`) for `what`.
    pub(crate) fn create(admin: &str, what: &str, keep: bool) -> Result<Schema> {
        static N: AtomicU64 = AtomicU64::new(0);
        let clean: String = what
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .take(24)
            .collect();
        let name = format!(
            "loadgen_{}_{}_{clean}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let sep = if admin.contains('?') { '&' } else { '?' };
        let url = format!("{admin}{sep}options=-c%20search_path%3D{name}");
        let create = format!("CREATE SCHEMA {name}");
        with_client(admin, async move |c| {
            c.batch_execute(&create)
                .await
                .with_context(|| format!("{create} (the --database role must be allowed to)"))
        })?;
        Ok(Schema {
            admin: admin.to_owned(),
            name,
            url,
            keep,
        })
    }

    /// Its name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The database's URL with this schema first on the `search_path`.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        if self.keep {
            eprintln!("kept schema {}", self.name);
            return;
        }
        // Receipts are append-only (triggers refuse DELETE and TRUNCATE), but a schema can be dropped.
        let drop = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name);
        if let Err(e) = with_client(&self.admin, async move |c| {
            Ok(c.batch_execute(&drop).await?)
        }) {
            eprintln!("warning: cannot drop schema {}: {e:#}", self.name);
        }
    }
}
