//! The PostgreSQL ceiling: a fresh schema with consent-server's migrations in the database the
//! servers use, one connection made as the server makes them (TLS included), and batches of rows.
//!
//! Rows only: one `INSERT … SELECT FROM UNNEST` statement committed on its own, the rows numbered by
//! the client. As the server writes: exactly what the server's writer does with a batch of receipts
//! ([`postgres_write_receipt_batch`]: `BEGIN` and `log_head` locked, the rows inserted with their numbers and log
//! indexes and their subjects marked live ([`consent_server::store::POSTGRES_INSERT_RECEIPTS`]), the
//! consent log's tiles and head written, each statement prepared once, those that do not wait for each
//! other sent together, the commit with the last ones): the difference between the two is what the numbering, the live
//! subjects and the consent log cost the database.

use anyhow::{Context, Result};
use consent_server::store::{
    POSTGRES_MIGRATIONS, PostgresBatchStatements, PostgresFinish, PostgresReceiptColumns,
    PostgresUrl, postgres_write_receipt_batch,
};
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
        "the server's batch: numbered and logged under log_head's lock"
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
            let server = PostgresBatchStatements::prepare(&client).await?;
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
    server: PostgresBatchStatements,
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
        if server_shaped {
            let cols = PostgresReceiptColumns {
                id: id.iter().map(|s| (*s).to_owned()).collect(),
                subject: subject.iter().map(|s| (*s).to_owned()).collect(),
                issued_at,
                policy_version: version.iter().map(|s| (*s).to_owned()).collect(),
                method,
                kid,
                browser: browser.into_iter().map(Some).collect(),
                decisions: decisions.iter().map(|s| (*s).to_owned()).collect(),
                expires_at,
                actor: actor.iter().map(|s| (*s).to_owned()).collect(),
                jws,
            };
            let (client, statement) = (&mut self.client, &self.server);
            self.runtime.block_on(async move {
                // BEGIN … COMMIT included, pipelined as the writer sends them.
                postgres_write_receipt_batch(client, statement, &cols, PostgresFinish::Commit)
                    .await?;
                anyhow::Ok(())
            })?;
            self.next += count;
            return Ok(());
        }
        let inserted = self.runtime.block_on(self.client.execute(
            &self.rows_only,
            &[
                &self.next,
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
