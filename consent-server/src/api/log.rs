//! The consent log over HTTP (C2SP tlog-tiles and tlog-checkpoint): `/log/checkpoint`, `/log/key`,
//! hash tiles (public, cacheable), entry bundles (auditors), cosignatures from witnesses, and the
//! tlog-proof of a receipt for whoever may read it, and of any entry (a rights event's) for staff.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use consent_core::ReceiptId;
use consent_core::tlog::{TilePath, UnverifiedCheckpoint, bundle_data};

use crate::auth::{Caller, ReadLogEntries, ReadLogProofs, Staff, require_permission};
use crate::error::{ApiError, ErrorCode};
use crate::extract::ApiPath;
use crate::log::{checkpoint_once, tlog_proof};
use crate::state::AppState;
use crate::store::{LogIndex, REDACTED_PREFIX, Write};

const TEXT: &str = "text/plain; charset=utf-8";
/// Tiles never change once served at their path (a partial tile has its width in its path).
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// `GET /log/checkpoint`: the latest checkpoint with the cosignatures given for it.
pub(crate) async fn checkpoint(State(state): State<AppState>) -> Result<Response, ApiError> {
    let latest = state.read(|s| s.latest_checkpoint()).await?;
    let (_, note) = match latest {
        Some(l) => l,
        None => checkpoint_once(&state).await?,
    };
    Ok((
        [
            (header::CONTENT_TYPE, TEXT),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        note,
    )
        .into_response())
}

/// `GET /log/key`: the log's note verifier key (C2SP signed-note vkey).
pub(crate) async fn key(State(state): State<AppState>) -> Result<Response, ApiError> {
    let vkey = state
        .log
        .verifier()
        .ok_or_else(|| ApiError::internal("the key file has no log key"))?;
    Ok(([(header::CONTENT_TYPE, TEXT)], format!("{vkey}\n")).into_response())
}

/// `GET /log/tile/{path}`: a hash tile (anyone) or an entry bundle (`tile/entries/…`, auditors).
pub(crate) async fn tile(
    State(state): State<AppState>,
    Path(rest): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let path: TilePath = format!("tile/{rest}").parse().map_err(|e| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            format!("no such tile: {e}"),
        )
    })?;
    let missing = || ApiError::not_found("tile");
    match path {
        TilePath::Hashes(tile) => {
            let data = state
                .read(move |s| s.log_tiles(&[tile]))
                .await?
                .into_iter()
                .next()
                .flatten()
                .ok_or_else(missing)?;
            let body = data.get(..tile.data_len()).ok_or_else(missing)?.to_vec();
            Ok((
                [
                    (header::CONTENT_TYPE, "application/octet-stream"),
                    (header::CACHE_CONTROL, IMMUTABLE),
                ],
                body,
            )
                .into_response())
        }
        TilePath::Entries(bundle) => {
            // Auditors only: the entries are receipts, which name pseudonyms.
            require_permission::<ReadLogEntries>(&state.config, &headers)?;
            let count = u64::from(bundle.width());
            let first = bundle.first_entry();
            let entries = state.read(move |s| s.log_entries(first, count)).await?;
            if entries.len() as u64 != count {
                return Err(missing());
            }
            let body = bundle_data(&entries).map_err(ApiError::internal)?;
            Ok((
                [
                    (header::CONTENT_TYPE, "application/octet-stream"),
                    (
                        header::CACHE_CONTROL,
                        "private, max-age=31536000, immutable",
                    ),
                ],
                body,
            )
                .into_response())
        }
    }
}

/// `POST /log/cosignature`: a witness sends the log's checkpoint with its cosignature (C2SP
/// tlog-cosignature); cosignatures of the configured witnesses that verify are kept and served with
/// the checkpoint from then on. Answers the checkpoint as now served.
pub(crate) async fn cosignature(
    State(state): State<AppState>,
    body: String,
) -> Result<Response, ApiError> {
    let invalid =
        |m: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::InvalidField, m);
    let verifier = state
        .log
        .verifier()
        .ok_or_else(|| ApiError::internal("the key file has no log key"))?;
    let checkpoint = UnverifiedCheckpoint::parse(&body)
        .and_then(|c| c.verify(&verifier, state.log.witnesses()))
        .map_err(|e| invalid(format!("body: not a checkpoint of this log: {e}")))?;
    let size = checkpoint.checkpoint().size();
    let lines: Vec<String> = checkpoint
        .note()
        .signatures()
        .iter()
        .filter(|sig| {
            state
                .log
                .witnesses()
                .iter()
                .any(|w| w.name() == sig.name() && w.key_id() == sig.key_id())
        })
        .map(ToString::to_string)
        .collect();
    if lines.is_empty() {
        return Err(invalid(
            "body: no cosignature of a witness this log knows".into(),
        ));
    }
    for line in lines {
        state.write(Write::Cosignature { size, line }).await?;
    }
    checkpoint_response(&state).await
}

async fn checkpoint_response(state: &AppState) -> Result<Response, ApiError> {
    let (_, note) = checkpoint_once(state).await?;
    Ok(([(header::CONTENT_TYPE, TEXT)], note).into_response())
}

/// `GET /v1/receipts/{id}/proof`: the receipt's tlog-proof@v1 file, for whoever may read the receipt.
pub(crate) async fn receipt_proof(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<ReceiptId>,
    caller: Caller,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    super::public::may_read_receipt(&state, &caller, &headers, id)?;
    let stored = state.read(move |store| store.receipt(id)).await?;
    let stored = stored.ok_or_else(|| ApiError::not_found("receipt"))?;
    if stored.is_redacted() {
        return Err(erased());
    }
    let index = stored
        .log_index
        .ok_or_else(|| ApiError::internal("a stored receipt has no log index"))?;
    let proof = tlog_proof(&state, index, stored.jws.as_bytes()).await?;
    Ok((
        [
            (header::CONTENT_TYPE, TEXT),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"receipt.tlog-proof\"",
            ),
        ],
        proof,
    )
        .into_response())
}

/// A redacted receipt has no proof to give: the log proves the original bytes, which the person holds.
fn erased() -> ApiError {
    ApiError::new(
        StatusCode::GONE,
        ErrorCode::ReceiptErased,
        "this receipt named a person in clear and was redacted when its subject was erased; the log \
         still proves the original receipt to whoever holds it",
    )
}

/// Adds a receipt's place in the log to its answer: `log_index`, and `proof`, the path of its tlog-proof.
pub(crate) fn with_log_fields(out: &mut serde_json::Value, receipt: ReceiptId, index: LogIndex) {
    if let Some(o) = out.as_object_mut() {
        o.insert("log_index".into(), index.0.into());
        o.insert(
            "proof".into(),
            format!("/v1/receipts/{receipt}/proof").into(),
        );
    }
}

/// The path of the tlog-proof of the entry at `index` ([`entry_proof`]), as rights answers give it.
pub(crate) fn entry_proof_path(index: LogIndex) -> String {
    format!("/v1/log/entries/{}/proof", index.0)
}

/// `GET /v1/log/entries/{index}/proof`: the tlog-proof@v1 file of the entry at `index` (a rights
/// event's, or any entry's), for auditors and operators.
pub(crate) async fn entry_proof(
    State(state): State<AppState>,
    _: Staff<ReadLogProofs>,
    ApiPath(index): ApiPath<LogIndex>,
) -> Result<Response, ApiError> {
    let entry = state
        .read(move |s| s.log_entries(index.0, 1))
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::not_found(&format!("log entry {}", index.0)))?;
    if entry.starts_with(REDACTED_PREFIX.as_bytes()) {
        return Err(erased());
    }
    let proof = tlog_proof(&state, index, &entry).await?;
    Ok((
        [
            (header::CONTENT_TYPE, TEXT),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"entry.tlog-proof\"",
            ),
        ],
        proof,
    )
        .into_response())
}
