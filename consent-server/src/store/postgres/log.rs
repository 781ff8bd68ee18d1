//! The log in PostgreSQL, as in SQLite (`store/sqlite/log.rs`): entries are the `jws` of `receipts` and
//! the `record` of `events`, numbered by their `log_index`; the tree is kept as tiles in `log_tiles`,
//! its size and root in the row of `log_head` (whose lock orders every batch of every instance), and
//! signed checkpoints in `log_checkpoints`. The writer appends a batch's leaves inside the batch's
//! transaction, under that lock.
//!
//! Core's tree functions read tiles through a blocking [`TileReader`]; the driver is async, so the
//! tiles a computation needs (the partial tiles of one tree size) are read first and handed to it as
//! [`Prefetched`].

use consent_core::tlog::{Hash, Tile, TileReader, TreeError, append_leaves, tiles_root};
use tokio_postgres::GenericClient;
use tokio_postgres::ToStatement;

use super::fault::Pg as _;
use crate::store::{LogHead, StoreError};

/// Entries read per query when catching up.
const CHUNK: u64 = 4096;

/// Held (to the end of its transaction) by a batch that stores a checkpoint: instances sign at most one
/// checkpoint a second between them (`DESIGN.md`). "consl" in `pg_locks`.
const CHECKPOINT_LOCK: i64 = 0x636f_6e73_6c01;

/// The writer's statements on the log: prepared once per connection (`BatchStatements` in the
/// writer), so that each is one round trip in a batch.
pub(super) const HEAD_FOR_UPDATE: &str =
    "SELECT receipts, events, entries, root FROM log_head WHERE id = 1 FOR UPDATE";
/// The stored data of tiles (`$1` levels, `$2` indexes), numbered by their place in the arrays.
pub(super) const READ_TILES: &str =
    "SELECT w.n, t.data FROM UNNEST($1::int2[], $2::int8[]) WITH ORDINALITY AS w(level, idx, n)
     JOIN log_tiles t ON t.level = w.level AND t.idx = w.idx";
/// Tiles written or replaced (`$1` levels, `$2` indexes, `$3` data).
pub(super) const WRITE_TILES: &str = "INSERT INTO log_tiles (level, idx, data)
     SELECT * FROM UNNEST($1::int2[], $2::int8[], $3::bytea[])
     ON CONFLICT (level, idx) DO UPDATE SET data = excluded.data";
/// The head's row rewritten.
pub(super) const SET_HEAD: &str =
    "UPDATE log_head SET receipts = $1, events = $2, entries = $3, root = $4 WHERE id = 1";

fn as_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn tree_error(e: TreeError) -> StoreError {
    StoreError::Corrupt(format!("the log's tree: {e}"))
}

/// Tiles read before a tree computation, in the order asked.
pub(super) struct Prefetched(Vec<(Tile, Option<Vec<u8>>)>);

impl TileReader for Prefetched {
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, TreeError> {
        tiles
            .iter()
            .map(|t| {
                self.0
                    .iter()
                    .find(|(p, _)| p.level() == t.level() && p.index() == t.index())
                    .and_then(|(_, d)| d.clone())
                    .ok_or_else(|| {
                        TreeError::storage(StoreError::Corrupt(format!("tile {t} is missing")))
                    })
            })
            .collect()
    }
}

/// Each tile's stored data, or `None`.
pub(super) async fn read_tiles(
    c: &impl GenericClient,
    tiles: &[Tile],
) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
    read_tiles_by(c, READ_TILES, tiles).await
}

/// [`read_tiles`] with its statement, `sql` ([`READ_TILES`]) or the statement prepared from it.
async fn read_tiles_by<S: ToStatement + Sync + Send + ?Sized>(
    c: &impl GenericClient,
    sql: &S,
    tiles: &[Tile],
) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
    if tiles.is_empty() {
        return Ok(Vec::new());
    }
    let levels: Vec<i16> = tiles.iter().map(|t| i16::from(t.level())).collect();
    let idx: Vec<i64> = tiles.iter().map(|t| as_i64(t.index())).collect();
    let rows = c.query(sql, &[&levels, &idx]).await.pg()?;
    let mut out = vec![None; tiles.len()];
    for r in rows {
        let n: i64 = r.try_get(0).pg()?;
        if let Some(slot) = usize::try_from(n - 1).ok().and_then(|i| out.get_mut(i)) {
            *slot = Some(r.try_get(1).pg()?);
        }
    }
    Ok(out)
}

/// The partial tiles of a tree of `size`, read.
async fn prefetch(c: &impl GenericClient, size: u64) -> Result<Prefetched, StoreError> {
    prefetch_by(c, READ_TILES, size).await
}

/// [`prefetch`] with the statement of [`READ_TILES`].
pub(super) async fn prefetch_by<S: ToStatement + Sync + Send + ?Sized>(
    c: &impl GenericClient,
    sql: &S,
    size: u64,
) -> Result<Prefetched, StoreError> {
    let tiles = Tile::partial_in(size);
    let data = read_tiles_by(c, sql, &tiles).await?;
    Ok(Prefetched(tiles.into_iter().zip(data).collect()))
}

/// The committed tree; `lock`: `FOR UPDATE` (the writer, to the end of its transaction).
pub(super) async fn head(c: &impl GenericClient, lock: bool) -> Result<Heads, StoreError> {
    let sql = if lock {
        HEAD_FOR_UPDATE
    } else {
        "SELECT receipts, events, entries, root FROM log_head WHERE id = 1"
    };
    head_by(c, sql).await
}

/// [`head`] with its statement (`sql` or the statement prepared from it).
pub(super) async fn head_by<S: ToStatement + Sync + Send + ?Sized>(
    c: &impl GenericClient,
    sql: &S,
) -> Result<Heads, StoreError> {
    let row = c.query_one(sql, &[]).await.pg()?;
    let entries: i64 = row.try_get(2).pg()?;
    let root: Vec<u8> = row.try_get(3).pg()?;
    let root: [u8; 32] = root
        .try_into()
        .map_err(|_| StoreError::Corrupt("log_head: the root is not 32 bytes".into()))?;
    Ok(Heads {
        receipts: row.try_get(0).pg()?,
        events: row.try_get(1).pg()?,
        log: LogHead {
            size: u64::try_from(entries)
                .map_err(|_| StoreError::Corrupt("log_head: negative size".into()))?,
            root: Hash::from_bytes(root),
        },
    })
}

/// The row of `log_head`: the last `seq` of receipts and of events, and the log's tree.
pub(super) struct Heads {
    pub(super) receipts: i64,
    pub(super) events: i64,
    pub(super) log: LogHead,
}

/// Appends leaves (in log order, the first at index `head.size`) to the stored tree: its tiles and the
/// head's size and root (the caller writes the head). Inside the caller's transaction.
pub(super) async fn append(
    c: &impl GenericClient,
    head: LogHead,
    leaves: &[Hash],
) -> Result<LogHead, StoreError> {
    if leaves.is_empty() {
        return Ok(head);
    }
    let reader = prefetch(c, head.size).await?;
    let appended = grow(head, leaves, &reader)?;
    write_tiles_by(c, WRITE_TILES, &appended).await?;
    Ok(appended.head())
}

/// The tree `head` grown by `leaves`, from its partial tiles (`reader`, [`prefetch_by`]): the tiles to
/// write ([`write_tiles_by`]) and the new head.
pub(super) fn grow(
    head: LogHead,
    leaves: &[Hash],
    reader: &Prefetched,
) -> Result<Grown, StoreError> {
    Ok(Grown(
        append_leaves(head.size, leaves, reader).map_err(tree_error)?,
    ))
}

/// A tree grown by a batch's leaves ([`grow`]).
pub(super) struct Grown(consent_core::tlog::Appended);

impl Grown {
    /// The tree's new size and root.
    pub(super) fn head(&self) -> LogHead {
        LogHead {
            size: self.0.size(),
            root: self.0.root(),
        }
    }
}

/// Writes the tiles the leaves of `grown` filled or grew, with the statement of [`WRITE_TILES`].
pub(super) async fn write_tiles_by<S: ToStatement + Sync + Send + ?Sized>(
    c: &impl GenericClient,
    sql: &S,
    grown: &Grown,
) -> Result<(), StoreError> {
    let mut levels = Vec::new();
    let mut idx = Vec::new();
    let mut data = Vec::new();
    for (tile, d) in grown.0.tiles() {
        levels.push(i16::from(tile.level()));
        idx.push(as_i64(tile.index()));
        data.push(d.as_slice());
    }
    c.execute(sql, &[&levels, &idx, &data]).await.pg()?;
    Ok(())
}

/// The entries at `first ..first + count`, stopping at the first index not logged.
pub(super) async fn entries(
    c: &impl GenericClient,
    first: u64,
    count: u64,
) -> Result<Vec<Vec<u8>>, StoreError> {
    let end = first.saturating_add(count);
    let rows = c
        .query(
            "SELECT log_index, jws FROM receipts WHERE log_index >= $1 AND log_index < $2
             UNION ALL
             SELECT log_index, record FROM events WHERE log_index >= $1 AND log_index < $2
             ORDER BY 1",
            &[&as_i64(first), &as_i64(end)],
        )
        .await
        .pg()?;
    let mut out = Vec::with_capacity(rows.len());
    for (next, r) in (first..).zip(rows) {
        let index: i64 = r.try_get(0).pg()?;
        if u64::try_from(index).ok() != Some(next) {
            break;
        }
        let entry: String = r.try_get(1).pg()?;
        out.push(entry.into_bytes());
    }
    Ok(out)
}

/// Builds the tiles of entries logged but not yet in the tree (at open: receipts stored before the log
/// existed, which the migration numbered), in one transaction under the lock of `log_head` (instances
/// starting together do it once). A missing index stops the build there, logged. A database that
/// `migrate --to` copied into is left to the copy, which rebuilds the tree from the leaf hashes logged
/// at commit (a redacted receipt's leaf is not the hash of its stored form): if its tree is behind its
/// entries, the copy has not finished, and the store is not opened.
pub(super) async fn catch_up(client: &mut deadpool_postgres::Client) -> Result<(), StoreError> {
    // Looked at without a lock first: a read-only session (a standby) opens the store for reads.
    if head(&***client, false).await?.log.size >= logged(&***client).await? {
        return Ok(());
    }
    let tx = client.transaction().await.pg()?;
    let heads = head(&*tx, true).await?;
    let mut h = heads.log;
    let end = logged(&*tx).await?;
    if h.size >= end {
        return tx.commit().await.pg();
    }
    let copied: bool = super::served::imports_readable(&*tx).await?
        && tx
            .query_one("SELECT EXISTS (SELECT 1 FROM imports)", &[])
            .await
            .pg()?
            .get(0);
    if copied {
        return Err(StoreError::Corrupt(format!(
            "this database holds a copy from SQLite that has not finished (its log's tree has {} \
             entries, {end} are stored): run `consent-server migrate --to` again to its end before \
             starting the server",
            h.size
        )));
    }
    tracing::info!(
        from = h.size,
        to = end,
        "adding stored entries to the log's tree"
    );
    while h.size < end {
        let batch = entries(&*tx, h.size, CHUNK.min(end - h.size)).await?;
        if batch.is_empty() {
            tracing::error!(
                logged = end,
                "log index {} is missing: the log has a gap",
                h.size
            );
            break;
        }
        let leaves: Vec<Hash> = batch.iter().map(|e| Hash::leaf(e)).collect();
        h = append(&*tx, h, &leaves).await?;
    }
    set_head(&*tx, heads.receipts, heads.events, h).await?;
    tx.commit().await.pg()
}

/// The number of entries logged (one past the largest log index).
async fn logged(c: &impl GenericClient) -> Result<u64, StoreError> {
    let end: i64 = c
        .query_one(
            "SELECT GREATEST(COALESCE((SELECT MAX(log_index) + 1 FROM receipts), 0),
                             COALESCE((SELECT MAX(log_index) + 1 FROM events), 0))",
            &[],
        )
        .await
        .pg()?
        .get(0);
    Ok(u64::try_from(end).unwrap_or(0))
}

/// Writes the row of `log_head`.
pub(super) async fn set_head(
    c: &impl GenericClient,
    receipts: i64,
    events: i64,
    log: LogHead,
) -> Result<(), StoreError> {
    set_head_by(c, SET_HEAD, receipts, events, log).await
}

/// [`set_head`] with its statement (`sql` or the statement prepared from it).
pub(super) async fn set_head_by<S: ToStatement + Sync + Send + ?Sized>(
    c: &impl GenericClient,
    sql: &S,
    receipts: i64,
    events: i64,
    log: LogHead,
) -> Result<(), StoreError> {
    c.execute(
        sql,
        &[
            &receipts,
            &events,
            &as_i64(log.size),
            &&log.root.as_bytes()[..],
        ],
    )
    .await
    .pg()?;
    Ok(())
}

/// Stores a checkpoint if the stored tree of its size (`head`: the tree as the batch found it) has its
/// root, and no instance stored one in the last second (then this one is dropped: the next signing
/// covers its entries).
pub(super) async fn store_checkpoint(
    c: &impl GenericClient,
    head: LogHead,
    size: u64,
    root: &Hash,
    note: &str,
) -> Result<(), StoreError> {
    let stored = if size == head.size {
        head.root
    } else if size < head.size {
        let reader = prefetch(c, size).await?;
        tiles_root(size, &reader).map_err(tree_error)?
    } else {
        return Err(StoreError::Corrupt(format!(
            "checkpoint of {size} entries: the log has {}",
            head.size
        )));
    };
    if stored != *root {
        return Err(StoreError::Corrupt(format!(
            "checkpoint of {size} entries: its root is not the log's"
        )));
    }
    c.execute("SELECT pg_advisory_xact_lock($1)", &[&CHECKPOINT_LOCK])
        .await
        .pg()?;
    c.execute(
        "INSERT INTO log_checkpoints (size, note) SELECT $1, $2
         WHERE NOT EXISTS (SELECT 1 FROM log_checkpoints
                           WHERE signed_at > clock_timestamp() - interval '1 second')
         ON CONFLICT DO NOTHING",
        &[&as_i64(size), &note],
    )
    .await
    .pg()?;
    Ok(())
}

/// Stores a cosignature line of a stored checkpoint.
pub(super) async fn store_cosignature(
    c: &impl GenericClient,
    size: u64,
    line: &str,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO log_cosignatures (size, line) SELECT $1, $2
         WHERE EXISTS (SELECT 1 FROM log_checkpoints WHERE size = $1) ON CONFLICT DO NOTHING",
        &[&as_i64(size), &line],
    )
    .await
    .pg()?;
    Ok(())
}

/// The checkpoint of the largest size, with its cosignature lines appended.
pub(super) async fn latest_checkpoint(
    c: &impl GenericClient,
) -> Result<Option<(u64, String)>, StoreError> {
    let Some(row) = c
        .query_opt(
            "SELECT size, note FROM log_checkpoints ORDER BY size DESC LIMIT 1",
            &[],
        )
        .await
        .pg()?
    else {
        return Ok(None);
    };
    let size: i64 = row.try_get(0).pg()?;
    let mut note: String = row.try_get(1).pg()?;
    for r in c
        .query(
            "SELECT line FROM log_cosignatures WHERE size = $1 ORDER BY line COLLATE \"C\"",
            &[&size],
        )
        .await
        .pg()?
    {
        let line: String = r.try_get(0).pg()?;
        note.push_str(&line);
        note.push('\n');
    }
    Ok(Some((u64::try_from(size).unwrap_or(0), note)))
}
