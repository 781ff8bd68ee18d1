//! The log in SQLite: entries are the `jws` of `receipts` and the `record` of `events`, numbered by
//! their `log_index`; the tree is kept as tiles in `log_tiles`, its size and root in `log_head`, and
//! signed checkpoints in `log_checkpoints`. The writer appends a batch's leaves inside the batch's
//! transaction, so the stored tree never disagrees with the entries it commits.

use consent_core::tlog::{Hash, Tile, TileReader, TreeError, append_leaves, tiles_root};
use rusqlite::{Connection, OptionalExtension, params};

use super::Db as _;
use crate::store::{LogHead, StoreError};

/// Entries read per query when catching up.
const CHUNK: u64 = 4096;

fn as_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The tiles stored in the database that `conn` reads (the writer's transaction, or a reader).
pub(super) struct DbTiles<'a>(pub(super) &'a Connection);

impl DbTiles<'_> {
    /// Each tile's stored data, or `None`.
    pub(super) fn read(&self, tiles: &[Tile]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let mut st = self
            .0
            .prepare_cached("SELECT data FROM log_tiles WHERE level = ?1 AND idx = ?2")
            .db()?;
        tiles
            .iter()
            .map(|t| {
                st.query_row(params![t.level(), as_i64(t.index())], |r| r.get(0))
                    .optional()
                    .db()
            })
            .collect()
    }
}

impl TileReader for DbTiles<'_> {
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, TreeError> {
        self.read(tiles)
            .map_err(TreeError::storage)?
            .into_iter()
            .zip(tiles)
            .map(|(d, t)| {
                d.ok_or_else(|| {
                    TreeError::storage(StoreError::Corrupt(format!("tile {t} is missing")))
                })
            })
            .collect()
    }
}

fn tree_error(e: TreeError) -> StoreError {
    StoreError::Corrupt(format!("the log's tree: {e}"))
}

/// The committed tree.
pub(super) fn head(conn: &Connection) -> Result<LogHead, StoreError> {
    let (entries, root): (i64, Vec<u8>) = conn
        .prepare_cached("SELECT entries, root FROM log_head WHERE id = 1")
        .db()?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .db()?;
    let root: [u8; 32] = root
        .try_into()
        .map_err(|_| StoreError::Corrupt("log_head: the root is not 32 bytes".into()))?;
    Ok(LogHead {
        size: u64::try_from(entries)
            .map_err(|_| StoreError::Corrupt("log_head: negative size".into()))?,
        root: Hash::from_bytes(root),
    })
}

/// Appends leaves (in log order, the first at index `head.size`) to the stored tree: its tiles and
/// head. Inside the caller's transaction.
pub(super) fn append(
    conn: &Connection,
    head: LogHead,
    leaves: &[Hash],
) -> Result<LogHead, StoreError> {
    if leaves.is_empty() {
        return Ok(head);
    }
    let appended = append_leaves(head.size, leaves, &DbTiles(conn)).map_err(tree_error)?;
    let mut st = conn
        .prepare_cached(
            "INSERT INTO log_tiles (level, idx, data) VALUES (?1, ?2, ?3)
             ON CONFLICT (level, idx) DO UPDATE SET data = excluded.data",
        )
        .db()?;
    for (tile, data) in appended.tiles() {
        st.execute(params![tile.level(), as_i64(tile.index()), data])
            .db()?;
    }
    let new = LogHead {
        size: appended.size(),
        root: appended.root(),
    };
    conn.prepare_cached("UPDATE log_head SET entries = ?1, root = ?2 WHERE id = 1")
        .db()?
        .execute(params![as_i64(new.size), &new.root.as_bytes()[..]])
        .db()?;
    Ok(new)
}

/// The entries at `first ..first + count`, stopping at the first index not logged.
pub(super) fn entries(
    conn: &Connection,
    first: u64,
    count: u64,
) -> Result<Vec<Vec<u8>>, StoreError> {
    let end = first.saturating_add(count);
    let mut st = conn
        .prepare_cached(
            "SELECT log_index, jws FROM receipts WHERE log_index >= ?1 AND log_index < ?2
             UNION ALL
             SELECT log_index, record FROM events WHERE log_index >= ?1 AND log_index < ?2
             ORDER BY 1",
        )
        .db()?;
    let mut rows = st.query(params![as_i64(first), as_i64(end)]).db()?;
    let mut out = Vec::new();
    let mut next = first;
    while let Some(r) = rows.next().db()? {
        let index: i64 = r.get(0).db()?;
        if u64::try_from(index).ok() != Some(next) {
            break;
        }
        let entry: String = r.get(1).db()?;
        out.push(entry.into_bytes());
        next += 1;
    }
    Ok(out)
}

/// The number of entries logged (one past the largest log index).
pub(super) fn logged(conn: &Connection) -> Result<u64, StoreError> {
    let n: i64 = conn
        .query_row(
            "SELECT MAX(COALESCE((SELECT MAX(log_index) + 1 FROM receipts), 0),
                        COALESCE((SELECT MAX(log_index) + 1 FROM events), 0))",
            [],
            |r| r.get(0),
        )
        .db()?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// At open: builds the tiles of entries logged but not yet in the tree (receipts stored before the
/// log existed, which the migration numbered), in one transaction.
pub(super) fn catch_up(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .db()?;
    let mut h = head(&tx)?;
    let end = logged(&tx)?;
    if h.size >= end {
        return Ok(());
    }
    tracing::info!(
        from = h.size,
        to = end,
        "adding stored entries to the log's tree"
    );
    while h.size < end {
        let batch = entries(&tx, h.size, CHUNK.min(end - h.size))?;
        if batch.is_empty() {
            return Err(StoreError::Corrupt(format!(
                "log index {} is missing: the log has a gap",
                h.size
            )));
        }
        let leaves: Vec<Hash> = batch.iter().map(|e| Hash::leaf(e)).collect();
        h = append(&tx, h, &leaves)?;
    }
    tx.commit().db()
}

/// Stores a checkpoint if the stored tree of its size has its root.
pub(super) fn store_checkpoint(
    conn: &Connection,
    size: u64,
    root: &Hash,
    note: &str,
) -> Result<(), StoreError> {
    let h = head(conn)?;
    let stored = if size == h.size {
        h.root
    } else if size < h.size {
        tiles_root(size, &DbTiles(conn)).map_err(tree_error)?
    } else {
        return Err(StoreError::Corrupt(format!(
            "checkpoint of {size} entries: the log has {}",
            h.size
        )));
    };
    if stored != *root {
        return Err(StoreError::Corrupt(format!(
            "checkpoint of {size} entries: its root is not the log's"
        )));
    }
    conn.prepare_cached(
        "INSERT INTO log_checkpoints (size, note) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
    )
    .db()?
    .execute(params![as_i64(size), note])
    .db()?;
    Ok(())
}

/// Stores a cosignature line of a stored checkpoint.
pub(super) fn store_cosignature(
    conn: &Connection,
    size: u64,
    line: &str,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO log_cosignatures (size, line) SELECT ?1, ?2
         WHERE EXISTS (SELECT 1 FROM log_checkpoints WHERE size = ?1) ON CONFLICT DO NOTHING",
    )
    .db()?
    .execute(params![as_i64(size), line])
    .db()?;
    Ok(())
}

/// The checkpoint of the largest size, with its cosignature lines appended.
pub(super) fn latest_checkpoint(conn: &Connection) -> Result<Option<(u64, String)>, StoreError> {
    let found: Option<(i64, String)> = conn
        .prepare_cached("SELECT size, note FROM log_checkpoints ORDER BY size DESC LIMIT 1")
        .db()?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .db()?;
    let Some((size, mut note)) = found else {
        return Ok(None);
    };
    let mut st = conn
        .prepare_cached("SELECT line FROM log_cosignatures WHERE size = ?1 ORDER BY line")
        .db()?;
    let mut rows = st.query(params![size]).db()?;
    while let Some(r) = rows.next().db()? {
        let line: String = r.get(0).db()?;
        note.push_str(&line);
        note.push('\n');
    }
    Ok(Some((u64::try_from(size).unwrap_or(0), note)))
}
