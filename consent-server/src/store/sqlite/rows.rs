//! How SQLite rows of receipts and cases are read back (the columns both engines share are in
//! `store::columns`). What the database returns is parsed here, once: a value that does not parse is
//! [`StoreError::Corrupt`].

use consent_core::Timestamp;
use rusqlite::Row;

use super::Db as _;
use crate::store::columns::{CaseRow, subject};
use crate::store::{Case, LogIndex, Seq, StoreError, StoredReceipt};

/// The columns [`stored_receipt`] reads, in order.
pub(super) const RECEIPT_COLUMNS: &str = "seq, id, subject, issued_at, jws, log_index";

/// A row of [`RECEIPT_COLUMNS`].
pub(super) fn stored_receipt(r: &Row<'_>) -> Result<StoredReceipt, StoreError> {
    let seq: i64 = r.get(0).db()?;
    let id: String = r.get(1).db()?;
    let corrupt = |what: &str| StoreError::Corrupt(format!("receipt {seq}: {what}"));
    Ok(StoredReceipt {
        seq: Seq(u64::try_from(seq).map_err(|_| corrupt("seq"))?),
        id: id.parse().map_err(|_| corrupt("id"))?,
        subject: subject(&r.get::<_, String>(2).db()?)?,
        issued_at: Timestamp::from_unix(r.get(3).db()?),
        jws: r.get(4).db()?,
        log_index: r
            .get::<_, Option<i64>>(5)
            .db()?
            .map(|i| {
                u64::try_from(i)
                    .map(LogIndex)
                    .map_err(|_| corrupt("log_index"))
            })
            .transpose()?,
    })
}

/// The columns [`case`] reads, in order.
pub(super) const CASE_COLUMNS: &str =
    "id, kind, subject, received_at, due_at, handled_by, receipt_id, closed_at, closed_by";

/// A row of [`CASE_COLUMNS`].
pub(super) fn case(r: &Row<'_>) -> Result<Case, StoreError> {
    CaseRow {
        id: r.get(0).db()?,
        kind: r.get(1).db()?,
        subject: r.get(2).db()?,
        received_at: r.get(3).db()?,
        due_at: r.get(4).db()?,
        handled_by: r.get(5).db()?,
        receipt: r.get(6).db()?,
        closed_at: r.get(7).db()?,
        closed_by: r.get(8).db()?,
    }
    .parse()
}
