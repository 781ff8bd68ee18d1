//! The ceiling: rows shaped like the server's `receipts` rows inserted straight into the database,
//! 1, 64 and 1024 per transaction, to show what the database alone allows on this machine.
//!
//! The rows and the timing are the same for every database; a [`Backend`] (SQLite, PostgreSQL)
//! creates a fresh store with the server's schema and inserts a batch in one transaction.

mod postgres;
mod sqlite;

use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::{Value, json};

use crate::ids::{Rng, b64url, device_id, uuid7};

pub(crate) use postgres::Postgres;
pub(crate) use sqlite::Sqlite;

/// A database the ceiling writes to directly.
pub(crate) trait Backend {
    /// Its name in the report ("SQLite").
    fn engine(&self) -> &'static str;
    /// Its durability settings, as the server sets them (`["WAL", "synchronous=FULL"]`).
    fn settings(&self) -> &'static [&'static str];
    /// How the server writes a batch, for the report ("receipt row + savepoint").
    fn server_shape(&self) -> &'static str;
    /// A fresh, empty store with the server's schema, for the run called `name`.
    fn open(&self, name: &str) -> Result<Box<dyn Store + '_>>;
}

/// A store opened by a [`Backend`]; dropping it removes what it created.
pub(crate) trait Store {
    /// Inserts `rows` in one transaction; with `server_shaped`, as the server writes them
    /// ([`Backend::server_shape`]).
    fn insert(&mut self, rows: &[Row<'_>], server_shaped: bool) -> Result<()>;
}

/// One `receipts` row, as the server writes it for loadgen's request.
pub(crate) struct Row<'a> {
    /// UUIDv7 text.
    pub(crate) id: String,
    /// `dev:` and a device id.
    pub(crate) subject: String,
    /// Unix seconds.
    pub(crate) issued_at: i64,
    /// Unix seconds.
    pub(crate) expires_at: i64,
    /// The signed receipt (random base64url text of the measured length).
    pub(crate) jws: &'a str,
}

impl Row<'_> {
    pub(crate) const POLICY_VERSION: &'static str = "2025-03-26";
    pub(crate) const METHOD: &'static str = "custom";
    pub(crate) const KID: &'static str = "ed-20251124";
    pub(crate) const BROWSER: &'static str = "Chrome";
    pub(crate) const DECISIONS: &'static str =
        "cookies-analytics=given;cookies-marketing=refused;marketing=given";
    pub(crate) const ACTOR: &'static str = "subject";
}

/// Rows with distinct ids, subjects and receipts, all issued now.
struct Rows {
    rng: Rng,
    jws_len: usize,
    millis: u64,
    issued_at: i64,
    made: u64,
}

impl Rows {
    fn new(jws_len: usize) -> Rows {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Rows {
            rng: Rng::new(),
            jws_len,
            millis: now.as_millis() as u64,
            issued_at: i64::try_from(now.as_secs()).unwrap_or(0),
            made: 0,
        }
    }

    /// A long random base64url text: the receipts are windows of it, so they differ.
    fn noise(&mut self) -> Result<String> {
        let mut random = vec![0u8; (self.jws_len + 4096) * 3 / 4 + 3];
        for chunk in random.chunks_mut(16) {
            let r = self.rng.bytes16();
            chunk.copy_from_slice(&r[..chunk.len()]);
        }
        let mut noise = Vec::new();
        b64url(&random, &mut noise);
        Ok(String::from_utf8(noise)?)
    }

    /// Replaces `batch` with `n` new rows, their receipts taken from `noise`.
    fn fill<'a>(&mut self, noise: &'a str, batch: &mut Vec<Row<'a>>, n: usize) -> Result<()> {
        batch.clear();
        for _ in 0..n {
            // Sixteen ids per millisecond, as from a busy server.
            let id = uuid7(&mut self.rng, self.millis + self.made / 16);
            let mut subject = b"dev:".to_vec();
            subject.extend_from_slice(&device_id(&mut self.rng));
            let offset = (self.rng.next() % 4096) as usize;
            batch.push(Row {
                id: id.hyphenated().to_string(),
                subject: String::from_utf8(subject)?,
                issued_at: self.issued_at,
                expires_at: self.issued_at + 365 * 86_400,
                jws: &noise[offset..offset + self.jws_len],
            });
            self.made += 1;
        }
        Ok(())
    }
}

/// One measurement: `batch` rows per transaction for a while.
pub(crate) struct CeilingRow {
    pub(crate) label: String,
    pub(crate) batch: usize,
    pub(crate) server_shaped: bool,
    pub(crate) rows: u64,
    pub(crate) commits: u64,
    pub(crate) elapsed: Duration,
}

impl CeilingRow {
    pub(crate) fn rows_per_sec(&self) -> f64 {
        self.rows as f64 / self.elapsed.as_secs_f64()
    }

    pub(crate) fn json(&self) -> Value {
        json!({
            "label": self.label,
            "rows_per_transaction": self.batch,
            "server_shaped": self.server_shaped,
            "rows": self.rows,
            "commits": self.commits,
            "elapsed_s": self.elapsed.as_secs_f64(),
            "rows_per_sec": self.rows_per_sec(),
            "commits_per_sec": self.commits as f64 / self.elapsed.as_secs_f64(),
        })
    }
}

/// The ceiling of one database: its measurements in order.
pub(crate) struct Ceiling {
    pub(crate) engine: &'static str,
    pub(crate) settings: &'static [&'static str],
    /// Length of each row's receipt.
    pub(crate) jws_len: usize,
    pub(crate) runs: Vec<CeilingRow>,
}

/// Inserts rows for `secs` seconds, `batch` per transaction, into a fresh store.
fn measure(
    backend: &dyn Backend,
    batch: usize,
    server_shaped: bool,
    jws_len: usize,
    secs: f64,
) -> Result<CeilingRow> {
    let name = format!(
        "ceiling-{batch}{}",
        if server_shaped { "-server" } else { "" }
    );
    let mut store = backend.open(&name)?;
    let mut source = Rows::new(jws_len);
    let noise = source.noise()?;
    let mut rows = Vec::with_capacity(batch);
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let start = Instant::now();
    let mut commits = 0u64;
    while Instant::now() < deadline {
        source.fill(&noise, &mut rows, batch)?;
        store.insert(&rows, server_shaped)?;
        commits += 1;
    }
    let elapsed = start.elapsed();
    drop(store);
    Ok(CeilingRow {
        label: if server_shaped {
            format!(
                "{batch}/tx, {} (as the server writes)",
                backend.server_shape()
            )
        } else {
            format!("{batch}/tx, receipts rows only")
        },
        batch,
        server_shaped,
        rows: commits * batch as u64,
        commits,
        elapsed,
    })
}

/// Every measurement of `backend`, each `secs` long, printing a line for each.
pub(crate) fn run(
    backend: &dyn Backend,
    jws_len: usize,
    jws_measured: bool,
    secs: f64,
) -> Result<Ceiling> {
    eprintln!(
        "phase ceiling: {} alone ({}), JWS of {jws_len} bytes{}, {secs:.1} s per run",
        backend.engine(),
        backend.settings().join(", "),
        if jws_measured { " (as measured)" } else { "" },
    );
    let mut runs = Vec::new();
    for (batch, server_shaped) in [
        (1, false),
        (64, false),
        (1024, false),
        (64, true),
        (1024, true),
    ] {
        let row = measure(backend, batch, server_shaped, jws_len, secs)?;
        eprintln!(
            "  [ceiling] {:<62} {:>9.0} rows/s ({} rows, {} commits in {:.2} s)",
            row.label,
            row.rows_per_sec(),
            row.rows,
            row.commits,
            row.elapsed.as_secs_f64()
        );
        runs.push(row);
    }
    Ok(Ceiling {
        engine: backend.engine(),
        settings: backend.settings(),
        jws_len,
        runs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_differ_and_have_the_receipt_length() {
        let mut source = Rows::new(100);
        let noise = source.noise().unwrap();
        let mut rows = Vec::new();
        source.fill(&noise, &mut rows, 3).unwrap();
        assert_eq!(rows.len(), 3);
        assert!(
            rows.iter()
                .all(|r| r.jws.len() == 100 && r.subject.len() == 26)
        );
        assert_ne!(rows[0].id, rows[1].id);
        assert_ne!(rows[0].subject, rows[1].subject);
    }
}
