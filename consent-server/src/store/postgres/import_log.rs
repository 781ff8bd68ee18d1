//! What `migrate --to` writes of the consent log: the tree rebuilt from the leaf hashes the source
//! logged at commit (the copy checks them), and the source's signed checkpoints and cosignatures, as
//! they are. Idempotent: leaves the tree already holds and checkpoints already stored are skipped.

use consent_core::tlog::Hash;

use super::fault::Pg as _;
use super::{PgStore, log, run};
use crate::store::StoreError;

impl PgStore {
    /// Appends `leaves`, the leaf hashes of the entries at `first ..`, to the log's tree (its tiles and
    /// head), skipping those it holds already, in one transaction under the lock of `log_head`; how many
    /// were added. A tree that ends before `first` is a gap, refused.
    pub fn import_log_leaves(&self, first: u64, leaves: Vec<Hash>) -> Result<u64, StoreError> {
        let pool = self.pool.clone();
        run(&self.handle, async move {
            let mut client = pool.get().await.pg()?;
            let tx = client.transaction().await.pg()?;
            let heads = log::head(&*tx, true).await?;
            let have = heads.log.size;
            if have < first {
                return Err(StoreError::Corrupt(format!(
                    "the target's log has {have} entries: the copy's next leaves start at {first}"
                )));
            }
            let skip = usize::try_from(have - first).unwrap_or(usize::MAX);
            let Some(new) = leaves.get(skip..).filter(|l| !l.is_empty()) else {
                return tx.commit().await.pg().map(|()| 0);
            };
            let grown = log::append(&*tx, heads.log, new).await?;
            log::set_head(&*tx, heads.receipts, heads.events, grown).await?;
            tx.commit().await.pg()?;
            Ok(new.len() as u64)
        })
    }

    /// How many of the entries at `first ..first + count` (receipts and rights events by log index) are
    /// stored.
    pub fn count_log_entries(&self, first: u64, count: u64) -> Result<u64, StoreError> {
        let pool = self.pool.clone();
        let first = i64::try_from(first).unwrap_or(i64::MAX);
        let end = first.saturating_add(i64::try_from(count).unwrap_or(i64::MAX));
        run(&self.handle, async move {
            let client = pool.get().await.pg()?;
            let n: i64 = client
                .query_one(
                    "SELECT (SELECT count(*) FROM receipts WHERE log_index >= $1 AND log_index < $2)
                          + (SELECT count(*) FROM events WHERE log_index >= $1 AND log_index < $2)",
                    &[&first, &end],
                )
                .await
                .pg()?
                .get(0);
            Ok(u64::try_from(n).unwrap_or(0))
        })
    }

    /// Stores the signed checkpoints (size, note) and cosignature lines (size, line) not stored yet (by
    /// size; another note of a stored size is refused), each checkpoint no larger than the tree; how many
    /// were added (checkpoints and lines).
    pub fn import_checkpoints(
        &self,
        checkpoints: Vec<(i64, String)>,
        cosignatures: Vec<(i64, String)>,
    ) -> Result<u64, StoreError> {
        let pool = self.pool.clone();
        run(&self.handle, async move {
            let mut client = pool.get().await.pg()?;
            let tx = client.transaction().await.pg()?;
            let heads = log::head(&*tx, true).await?;
            let (sizes, notes): (Vec<i64>, Vec<String>) = checkpoints.into_iter().unzip();
            if let Some(past) = sizes
                .iter()
                .find(|s| u64::try_from(**s).map_or(true, |s| s > heads.log.size))
            {
                return Err(StoreError::Corrupt(format!(
                    "a checkpoint of {past} entries, the target's log has {}",
                    heads.log.size
                )));
            }
            let mut added = tx
                .execute(
                    "INSERT INTO log_checkpoints (size, note)
                     SELECT * FROM UNNEST($1::int8[], $2::text[]) ON CONFLICT (size) DO NOTHING",
                    &[&sizes, &notes],
                )
                .await
                .pg()?;
            let other: Option<i64> = tx
                .query_one(
                    "SELECT min(c.size) FROM UNNEST($1::int8[], $2::text[]) AS s(size, note)
                     JOIN log_checkpoints c ON c.size = s.size AND c.note <> s.note",
                    &[&sizes, &notes],
                )
                .await
                .pg()?
                .get(0);
            if let Some(size) = other {
                return Err(StoreError::Corrupt(format!(
                    "the target has another checkpoint of {size} entries than the source's"
                )));
            }
            let (sizes, lines): (Vec<i64>, Vec<String>) = cosignatures.into_iter().unzip();
            added += tx
                .execute(
                    "INSERT INTO log_cosignatures (size, line)
                     SELECT * FROM UNNEST($1::int8[], $2::text[]) ON CONFLICT DO NOTHING",
                    &[&sizes, &lines],
                )
                .await
                .pg()?;
            tx.commit().await.pg()?;
            Ok(added)
        })
    }
}
