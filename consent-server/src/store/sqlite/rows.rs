//! How SQLite rows of receipts are read back (the columns both engines share are in
//! `store::columns`). What the database returns is parsed here, once: a value that does not parse is
//! [`StoreError::Corrupt`].

use consent_core::Timestamp;
use rusqlite::Row;

use super::Db as _;
use crate::store::columns::subject;
use crate::store::{Seq, StoreError, StoredReceipt};

/// The columns [`stored_receipt`] reads, in order.
pub(super) const RECEIPT_COLUMNS: &str = "seq, id, subject, issued_at, jws";

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
    })
}
