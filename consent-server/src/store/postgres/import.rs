//! What `consent-server migrate --to postgres://…` writes: rows copied from a SQLite database, each
//! step idempotent, so that a copy interrupted anywhere and run again adds nothing twice. Receipts are
//! keyed by their id, links by their lookup, policy versions by their version; events, which have no id,
//! by the copy's progress (`imports`), updated in the transaction that adds them.

use super::fault::Pg as _;
use super::{PgStore, run, served};
use crate::store::columns;
use crate::store::{NewReceipt, StoreError};

/// An event of the source, in its order.
#[derive(Clone, Debug)]
pub struct ImportedEvent {
    /// Its number in the source (the copy's progress).
    pub source_seq: i64,
    /// The pseudonym.
    pub subject: String,
    /// Unix seconds.
    pub at: i64,
    /// `restrict`, `unblock` or `erase`.
    pub kind: String,
    /// Its signed record and index in the consent log, kept (`None`: made before the log).
    pub logged: Option<(String, i64)>,
}

/// Receipts not stored yet, numbered after the last one, with the log index they have in the source
/// (the log is copied as it is: the same entries at the same indexes, so the tree, its root and every
/// checkpoint signed over it stay true); the rest (already copied) are left alone.
const IMPORT_RECEIPTS: &str = "
WITH new AS (
    SELECT r.*, row_number() OVER (ORDER BY r.n) AS k
    FROM UNNEST($1::text[], $2::text[], $3::int8[], $4::text[], $5::text[], $6::text[], $7::text[],
                $8::text[], $9::int8[], $10::text[], $11::text[], $12::int8[])
         WITH ORDINALITY AS r(id, subject, issued_at, policy_version, method, kid, browser, decisions,
                              expires_at, actor, jws, log_index, n)
    WHERE NOT EXISTS (SELECT 1 FROM receipts x WHERE x.id = r.id::uuid)
),
head AS (
    UPDATE log_head SET receipts = receipts + (SELECT count(*) FROM new) WHERE id = 1
    RETURNING receipts - (SELECT count(*) FROM new) AS base
)
INSERT INTO receipts (seq, id, subject, issued_at, policy_version, method, kid, browser, decisions,
                      expires_at, actor, jws, log_index)
SELECT head.base + new.k, new.id::uuid, new.subject, new.issued_at, new.policy_version, new.method,
       new.kid, new.browser, new.decisions, new.expires_at, new.actor, new.jws, new.log_index
FROM head, new";

impl PgStore {
    /// Stores a policy version unless it is there; one with another hash is
    /// [`StoreError::PolicyChanged`].
    pub fn import_policy(
        &self,
        version: consent_core::PolicyVersion,
        sha256: &str,
        canonical: &str,
    ) -> Result<(), StoreError> {
        let (v, h, c) = (version.to_string(), sha256.to_owned(), canonical.to_owned());
        let pool = self.pool.clone();
        run(&self.handle, async move {
            let client = pool.get().await.pg()?;
            client
                .execute(
                    "INSERT INTO policies (version, sha256, canonical) VALUES ($1, $2, $3) \
                     ON CONFLICT (version) DO NOTHING",
                    &[&v, &h, &c],
                )
                .await
                .pg()?;
            let stored: String = client
                .query_one("SELECT sha256 FROM policies WHERE version = $1", &[&v])
                .await
                .pg()?
                .get(0);
            if stored == h {
                Ok(())
            } else {
                Err(StoreError::PolicyChanged(version))
            }
        })
    }

    /// Stores pseudonym links that are not there (by lookup); the number of lookups already linked to
    /// another pseudonym (the person was recorded on this database too: the link here stays).
    pub fn import_links(&self, links: Vec<(Vec<u8>, String)>) -> Result<u64, StoreError> {
        let pool = self.pool.clone();
        run(&self.handle, async move {
            let client = pool.get().await.pg()?;
            let (lookups, subjects): (Vec<_>, Vec<_>) = links.into_iter().unzip();
            client
                .execute(
                    "INSERT INTO subject_links (lookup, subject) \
                     SELECT * FROM UNNEST($1::bytea[], $2::text[]) ON CONFLICT DO NOTHING",
                    &[&lookups, &subjects],
                )
                .await
                .pg()?;
            let same: i64 = client
                .query_one(
                    "SELECT count(*) FROM UNNEST($1::bytea[], $2::text[]) AS c(lookup, subject) \
                     JOIN subject_links l USING (lookup, subject)",
                    &[&lookups, &subjects],
                )
                .await
                .pg()?
                .get(0);
            Ok(lookups.len() as u64 - u64::try_from(same).unwrap_or(0))
        })
    }

    /// Stores the receipts that are not there yet (by id), numbered after the last one, each with its
    /// log index in the source, in one statement; how many were added.
    pub fn import_receipts(
        &self,
        receipts: Vec<NewReceipt>,
        log_indexes: Vec<Option<i64>>,
    ) -> Result<u64, StoreError> {
        let pool = self.pool.clone();
        run(&self.handle, async move {
            let client = pool.get().await.pg()?;
            let n = receipts.len();
            let mut cols = (
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
                Vec::with_capacity(n),
            );
            for r in &receipts {
                cols.0.push(r.id().to_string());
                cols.1.push(r.subject().to_string());
                cols.2.push(r.issued_at().as_unix());
                cols.3.push(r.policy_version().to_string());
                cols.4.push(r.method().as_str());
                cols.5.push(r.kid());
                cols.6.push(r.browser());
                cols.7.push(columns::decisions_text(r.decisions()));
                cols.8.push(r.expires_at().as_unix());
                cols.9.push(r.by().to_string());
                cols.10.push(r.jws());
            }
            client
                .execute(
                    IMPORT_RECEIPTS,
                    &[
                        &cols.0,
                        &cols.1,
                        &cols.2,
                        &cols.3,
                        &cols.4,
                        &cols.5,
                        &cols.6,
                        &cols.7,
                        &cols.8,
                        &cols.9,
                        &cols.10,
                        &log_indexes,
                    ],
                )
                .await
                .pg()
        })
    }

    /// How many of `ids` are stored.
    pub fn count_receipts(&self, ids: Vec<String>) -> Result<u64, StoreError> {
        let pool = self.pool.clone();
        run(&self.handle, async move {
            let client = pool.get().await.pg()?;
            let n: i64 = client
                .query_one(
                    "SELECT count(*) FROM receipts WHERE id = ANY($1::text[]::uuid[])",
                    &[&ids],
                )
                .await
                .pg()?
                .get(0);
            Ok(u64::try_from(n).unwrap_or(0))
        })
    }

    /// Records that a copy of `source` writes into this database, unfinished (before it writes anything
    /// else), so that a server is not started on it before the copy has ended ([`PgStore::open`]);
    /// refuses, writing nothing, a database consent-server has served on
    /// ([`StoreError::TargetServed`]).
    pub fn begin_import(&self, source: &str) -> Result<(), StoreError> {
        let pool = self.pool.clone();
        let source = source.to_owned();
        run(&self.handle, async move {
            let mut client = pool.get().await.pg()?;
            let tx = client.transaction().await.pg()?;
            served::refuse_if_served(&*tx).await?;
            tx.execute(
                "INSERT INTO imports (source, events, finished) VALUES ($1, 0, false) \
                 ON CONFLICT (source) DO UPDATE SET finished = false",
                &[&source],
            )
            .await
            .pg()?;
            tx.commit().await.pg()
        })
    }

    /// Records that the copy of `source` ran to its end (every check passed): servers may start.
    pub fn finish_import(&self, source: &str) -> Result<(), StoreError> {
        let pool = self.pool.clone();
        let source = source.to_owned();
        run(&self.handle, async move {
            let client = pool.get().await.pg()?;
            client
                .execute(
                    "UPDATE imports SET finished = true WHERE source = $1",
                    &[&source],
                )
                .await
                .pg()
                .map(|_| ())
        })
    }

    /// The last event of `source` copied so far (its number there; 0: none).
    pub fn imported_events(&self, source: &str) -> Result<i64, StoreError> {
        let pool = self.pool.clone();
        let source = source.to_owned();
        run(&self.handle, async move {
            let client = pool.get().await.pg()?;
            Ok(client
                .query_opt("SELECT events FROM imports WHERE source = $1", &[&source])
                .await
                .pg()?
                .map_or(0, |r| r.get(0)))
        })
    }

    /// Adds the events of `source` after the last one copied, numbered after the last event here, and
    /// records the progress, in one transaction.
    pub fn import_events(
        &self,
        source: &str,
        events: Vec<ImportedEvent>,
    ) -> Result<u64, StoreError> {
        let pool = self.pool.clone();
        let source = source.to_owned();
        run(&self.handle, async move {
            let mut client = pool.get().await.pg()?;
            let tx = client.transaction().await.pg()?;
            let mut next: i64 = tx
                .query_one("SELECT events FROM log_head WHERE id = 1 FOR UPDATE", &[])
                .await
                .pg()?
                .get(0);
            tx.execute(
                "INSERT INTO imports (source, events) VALUES ($1, 0) ON CONFLICT DO NOTHING",
                &[&source],
            )
            .await
            .pg()?;
            let done: i64 = tx
                .query_one(
                    "SELECT events FROM imports WHERE source = $1 FOR UPDATE",
                    &[&source],
                )
                .await
                .pg()?
                .get(0);
            let mut added = 0;
            let mut last = done;
            for e in events.iter().filter(|e| e.source_seq > done) {
                next += 1;
                let (record, index) = e.logged.clone().unzip();
                tx.execute(
                    "INSERT INTO events (seq, subject, at, kind, record, log_index) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                    &[&next, &e.subject, &e.at, &e.kind, &record, &index],
                )
                .await
                .pg()?;
                last = e.source_seq;
                added += 1;
            }
            tx.execute("UPDATE log_head SET events = $1 WHERE id = 1", &[&next])
                .await
                .pg()?;
            tx.execute(
                "UPDATE imports SET events = $2 WHERE source = $1",
                &[&source, &last],
            )
            .await
            .pg()?;
            tx.commit().await.pg()?;
            Ok(added)
        })
    }

    /// Stores the data keys that are not there (by subject), each with the number here of the receipt
    /// that made it (`receipt`, its id); how many were added. Run after the receipts are copied.
    pub fn import_data_keys(
        &self,
        keys: Vec<(String, Vec<u8>, String)>,
    ) -> Result<u64, StoreError> {
        let pool = self.pool.clone();
        run(&self.handle, async move {
            let client = pool.get().await.pg()?;
            let mut cols = (Vec::new(), Vec::new(), Vec::new());
            for (subject, key, receipt) in keys {
                cols.0.push(subject);
                cols.1.push(key);
                cols.2.push(receipt);
            }
            client
                .execute(
                    "INSERT INTO data_keys (subject, key, created_seq) \
                     SELECT k.subject, k.key, r.seq \
                     FROM UNNEST($1::text[], $2::bytea[], $3::text[]) AS k(subject, key, receipt) \
                     JOIN receipts r ON r.id = k.receipt::uuid \
                     ON CONFLICT (subject) DO NOTHING",
                    &[&cols.0, &cols.1, &cols.2],
                )
                .await
                .pg()
        })
    }

    /// Counts again which subjects have a live record (a receipt not followed by an erasure), as the
    /// migration that made `subjects` did: after a copy added receipts and events.
    pub fn recount_live_subjects(&self) -> Result<(), StoreError> {
        let pool = self.pool.clone();
        run(&self.handle, async move {
            let client = pool.get().await.pg()?;
            client
                .execute(
                    "INSERT INTO subjects (subject, live) \
                     SELECT r.subject, NOT EXISTS (SELECT 1 FROM events e WHERE e.subject = r.subject \
                         AND e.kind = 'erase' AND e.at >= MAX(r.issued_at)) \
                     FROM receipts r GROUP BY r.subject \
                     ON CONFLICT (subject) DO UPDATE SET live = EXCLUDED.live \
                     WHERE subjects.live IS DISTINCT FROM EXCLUDED.live",
                    &[],
                )
                .await
                .pg()
                .map(|_| ())
        })
    }
}
