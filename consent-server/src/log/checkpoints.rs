//! Checkpoints of what the store committed, signed with the log's key, and tlog-proof files made from
//! the stored tiles and the latest checkpoint. Engine-neutral: everything goes through [`Store`].

use std::time::Duration;

use consent_core::tlog::{
    Checkpoint, Hash, TileHashReader, UnverifiedCheckpoint, VerifiedTlogProof, prove_inclusion,
};

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{LogIndex, Store, StoreTiles, Write};

/// Checkpoints are signed at most this often under load (at rest, each batch gets its own at once).
const EVERY: Duration = Duration::from_secs(1);

/// Signs and stores a checkpoint of the committed tree if the latest one is of a smaller tree (or there
/// is none); returns the latest checkpoint's size and note. Two instances signing the same tree sign
/// the same text, and the store keeps one; on PostgreSQL the store drops a checkpoint stored less than a
/// second after another instance's (the latest is then smaller than the tree).
pub async fn checkpoint_once(state: &AppState) -> Result<(u64, String), ApiError> {
    let signer = state
        .log
        .signer()
        .ok_or_else(|| ApiError::internal("the key file has no log key"))?;
    // On PostgreSQL a checkpoint stored less than a second after another instance's is dropped: then
    // this one waits for that second to pass and signs again.
    for _ in 0..3 {
        let (head, latest) = state
            .read(|s| Ok((s.log_head()?, s.latest_checkpoint()?)))
            .await?;
        if let Some((size, note)) = latest
            && size >= head.size
        {
            return Ok((size, note));
        }
        let note = Checkpoint::new(state.log.origin(), head.size, head.root)
            .sign(signer)
            .map_err(ApiError::internal)?
            .to_string();
        state
            .write(Write::Checkpoint {
                size: head.size,
                root: head.root,
                note,
            })
            .await?;
        let latest = state.read(|s| s.latest_checkpoint()).await?;
        if let Some((size, note)) = latest
            && size >= head.size
        {
            return Ok((size, note));
        }
        tokio::time::sleep(EVERY).await;
    }
    Err(ApiError::internal(
        "the checkpoint was not stored: another instance keeps storing its own",
    ))
}

/// Signs a checkpoint after each committed batch that logged entries, at most once per second: `serve`
/// runs it beside the server; it never returns. Failures are retried every second and logged at most
/// once a minute (the storage's own health reports an outage).
pub async fn keep_checkpointing(state: AppState) {
    let mut last_warned: Option<tokio::time::Instant> = None;
    let mut not_logged = 0u64;
    loop {
        let started = tokio::time::Instant::now();
        match checkpoint_once(&state).await {
            Ok(_) => not_logged = 0,
            Err(e) if last_warned.is_none_or(|t| t.elapsed() >= Duration::from_secs(60)) => {
                tracing::warn!(error = %e.message, not_logged, "signing a checkpoint failed");
                last_warned = Some(started);
                not_logged = 0;
            }
            Err(_) => not_logged += 1,
        }
        // Another instance's batches (several instances on one database) are noticed within a second.
        let _ = tokio::time::timeout(EVERY, state.log.grown.notified()).await;
        tokio::time::sleep_until(started + EVERY).await;
    }
}

/// The tlog-proof@v1 file of the entry at `index` whose bytes are `entry`, against the latest
/// checkpoint (signing one first if none covers the entry yet).
pub async fn tlog_proof(
    state: &AppState,
    index: LogIndex,
    entry: &[u8],
) -> Result<String, ApiError> {
    let (mut size, mut note) = state
        .read(|s| s.latest_checkpoint())
        .await?
        .unwrap_or((0, String::new()));
    if size <= index.0 {
        (size, note) = checkpoint_once(state).await?;
    }
    let verifier = state
        .log
        .verifier()
        .ok_or_else(|| ApiError::internal("the key file has no log key"))?;
    let checkpoint = UnverifiedCheckpoint::parse(&note)
        .and_then(|c| c.verify(&verifier, state.log.witnesses()))
        .map_err(ApiError::internal)?;
    let proof = state
        .read(move |s: &dyn Store| {
            let tiles = StoreTiles(s);
            prove_inclusion(index.0, size, &TileHashReader::new(size, &tiles))
                .map_err(|e| crate::store::StoreError::Corrupt(format!("inclusion proof: {e}")))
        })
        .await?;
    Ok(
        VerifiedTlogProof::new(&Hash::leaf(entry), proof, checkpoint, None)
            .map_err(ApiError::internal)?
            .to_string(),
    )
}
