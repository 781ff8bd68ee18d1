//! How PostgreSQL rows of receipts and cases are read back (the columns both engines share are in
//! `store::columns`). What the database returns is parsed here, once: a value that does not parse is
//! [`StoreError::Corrupt`].

use consent_core::Timestamp;

use super::fault::Pg as _;
use crate::store::columns::{self, CaseRow};
use crate::store::{Case, LogIndex, Seq, StoreError, StoredReceipt};

/// The columns [`stored_receipt`] reads, in order.
pub(super) const RECEIPT_COLUMNS: &str = "seq, id::text, subject, issued_at, jws, log_index";

/// The columns [`case`] reads, in order.
pub(super) const CASE_COLUMNS: &str =
    "id, kind, subject, received_at, due_at, handled_by, receipt_id::text, closed_at, closed_by";

/// A row of [`RECEIPT_COLUMNS`].
pub(super) fn stored_receipt(r: &tokio_postgres::Row) -> Result<StoredReceipt, StoreError> {
    let seq: i64 = r.try_get(0).pg()?;
    let id: String = r.try_get(1).pg()?;
    let corrupt = |what: &str| StoreError::Corrupt(format!("receipt {seq}: {what}"));
    Ok(StoredReceipt {
        seq: Seq(u64::try_from(seq).map_err(|_| corrupt("seq"))?),
        id: id.parse().map_err(|_| corrupt("id"))?,
        subject: columns::subject(r.try_get(2).pg()?)?,
        issued_at: Timestamp::from_unix(r.try_get(3).pg()?),
        jws: r.try_get(4).pg()?,
        log_index: r
            .try_get::<_, Option<i64>>(5)
            .pg()?
            .map(|i| {
                u64::try_from(i)
                    .map(LogIndex)
                    .map_err(|_| corrupt("log_index"))
            })
            .transpose()?,
    })
}

/// A row of [`CASE_COLUMNS`].
pub(super) fn case(r: &tokio_postgres::Row) -> Result<Case, StoreError> {
    CaseRow {
        id: r.try_get(0).pg()?,
        kind: r.try_get(1).pg()?,
        subject: r.try_get(2).pg()?,
        received_at: r.try_get(3).pg()?,
        due_at: r.try_get(4).pg()?,
        handled_by: r.try_get(5).pg()?,
        receipt: r.try_get(6).pg()?,
        closed_at: r.try_get(7).pg()?,
        closed_by: r.try_get(8).pg()?,
    }
    .parse()
}
