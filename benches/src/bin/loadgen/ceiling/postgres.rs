//! The PostgreSQL ceiling: a fresh schema with consent-server's migrations in the database the
//! servers use, one connection made as the server makes them (TLS included), and each batch one
//! `INSERT … SELECT FROM UNNEST` statement committed on its own, as the server's writer commits.
//!
//! Rows only: the rows numbered by the client. As the server writes: exactly the server's
//! statement ([`POSTGRES_INSERT_RECEIPTS`]), which numbers the rows under the lock of `log_head`.

use anyhow::{Context, Result};
use consent_server::store::{POSTGRES_INSERT_RECEIPTS, POSTGRES_MIGRATIONS, PostgresUrl};
use tokio::runtime::Runtime;

use super::{Backend, Row, Store};
use crate::pg::Schema;

/// The rows of a batch numbered from `$1 + 1` by the client, nothing else.
const INSERT_ROWS: &str = "
INSERT INTO receipts (seq, id, subject, issued_at, policy_version, method, kid, browser, decisions,
                      expires_at, actor, jws)
SELECT $1 + r.n, r.id::uuid, r.subject, r.issued_at, r.policy_version, r.method, r.kid, r.browser,
       r.decisions, r.expires_at, r.actor, r.jws
FROM UNNEST($2::text[], $3::text[], $4::int8[], $5::text[], $6::text[], $7::text[], $8::text[],
            $9::text[], $10::int8[], $11::text[], $12::text[])
     WITH ORDINALITY AS r(id, subject, issued_at, policy_version, method, kid, browser, decisions,
                          expires_at, actor, jws, n)";

/// Fresh schemas in the database of a `postgres://` URL. Owns a runtime: make and drop it outside
/// any other (loadgen runs the ceiling on a thread of its own).
pub(crate) struct Postgres {
    admin: String,
    keep: bool,
    runtime: Runtime,
}

impl Postgres {
    /// Schemas go to the database of `admin`.
    pub(crate) fn new(admin: &str, keep: bool) -> Result<Postgres> {
        Ok(Postgres {
            admin: admin.to_owned(),
            keep,
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?,
        })
    }
}

impl Backend for Postgres {
    fn engine(&self) -> &'static str {
        "PostgreSQL"
    }

    fn settings(&self) -> &'static [&'static str] {
        &["fsync=on", "synchronous_commit=on"]
    }

    fn server_shape(&self) -> &'static str {
        "numbered under log_head's lock"
    }

    fn open(&self, name: &str) -> Result<Box<dyn Store + '_>> {
        let schema = Schema::create(&self.admin, name, self.keep)?;
        let url = PostgresUrl::parse(schema.url()).map_err(anyhow::Error::msg)?;
        let (client, rows_only, server) = self.runtime.block_on(async {
            let client = url
                .connect()
                .await
                .with_context(|| format!("cannot connect to {url}"))?;
            client
                .batch_execute(&POSTGRES_MIGRATIONS.concat())
                .await
                .with_context(|| format!("consent-server's schema in {}", schema.name()))?;
            let rows_only = client.prepare(INSERT_ROWS).await?;
            let server = client.prepare(POSTGRES_INSERT_RECEIPTS).await?;
            anyhow::Ok((client, rows_only, server))
        })?;
        Ok(Box::new(PgStore {
            runtime: &self.runtime,
            client,
            rows_only,
            server,
            next: 0,
            _schema: schema,
        }))
    }
}

/// One schema and a connection to it.
struct PgStore<'a> {
    runtime: &'a Runtime,
    client: tokio_postgres::Client,
    rows_only: tokio_postgres::Statement,
    server: tokio_postgres::Statement,
    /// Rows inserted so far (the rows-only numbering).
    next: i64,
    /// Dropped after the connection (fields drop in order).
    _schema: Schema,
}

impl Store for PgStore<'_> {
    fn insert(&mut self, rows: &[Row<'_>], server_shaped: bool) -> Result<()> {
        let n = rows.len();
        let id: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        let subject: Vec<&str> = rows.iter().map(|r| r.subject.as_str()).collect();
        let issued_at: Vec<i64> = rows.iter().map(|r| r.issued_at).collect();
        let expires_at: Vec<i64> = rows.iter().map(|r| r.expires_at).collect();
        let jws: Vec<&str> = rows.iter().map(|r| r.jws).collect();
        let (version, method, kid, browser, decisions, actor) = (
            vec![Row::POLICY_VERSION; n],
            vec![Row::METHOD; n],
            vec![Row::KID; n],
            vec![Row::BROWSER; n],
            vec![Row::DECISIONS; n],
            vec![Row::ACTOR; n],
        );
        let count = i64::try_from(n)?;
        let (statement, first) = if server_shaped {
            (&self.server, count)
        } else {
            (&self.rows_only, self.next)
        };
        let inserted = self.runtime.block_on(self.client.execute(
            statement,
            &[
                &first,
                &id,
                &subject,
                &issued_at,
                &version,
                &method,
                &kid,
                &browser,
                &decisions,
                &expires_at,
                &actor,
                &jws,
            ],
        ))?;
        anyhow::ensure!(inserted == n as u64, "{inserted} of {n} rows inserted");
        self.next += count;
        Ok(())
    }
}
