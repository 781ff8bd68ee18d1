//! How the store's values are written to SQLite columns and read back. What the database returns is
//! parsed here, once: a value that does not parse is [`StoreError::Corrupt`].

use std::collections::BTreeMap;

use consent_core::{
    Actor, Choice, ConsentRecord, Event, EventKind, Method, PolicyVersion, PurposeId, Timestamp,
};
use rusqlite::Row;

use super::Db as _;
use crate::privacy::SubjectRef;
use crate::store::{Case, CaseId, Seq, StoreError, StoredReceipt};

/// The columns [`stored_receipt`] reads, in order.
pub(super) const RECEIPT_COLUMNS: &str = "seq, id, subject, issued_at, jws";

/// The `decisions` column: `purpose=choice` pairs joined by `;`.
pub(super) fn decisions_text(decisions: &BTreeMap<PurposeId, Choice>) -> String {
    let mut out = String::with_capacity(decisions.len() * 24);
    for (i, (purpose, choice)) in decisions.iter().enumerate() {
        if i > 0 {
            out.push(';');
        }
        out.push_str(purpose.as_str());
        out.push('=');
        out.push_str(choice.as_str());
    }
    out
}

/// A subject column.
pub(super) fn subject(s: &str) -> Result<SubjectRef, StoreError> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("subject `{s}` is not a pseudonym")))
}

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

/// The columns [`case`] reads, in order.
pub(super) const CASE_COLUMNS: &str =
    "id, kind, subject, received_at, due_at, handled_by, receipt_id, closed_at, closed_by";

/// A row of [`CASE_COLUMNS`].
pub(super) fn case(r: &Row<'_>) -> Result<Case, StoreError> {
    let id: i64 = r.get(0).db()?;
    let corrupt = |what: &str| StoreError::Corrupt(format!("case {id}: {what}"));
    let kind: String = r.get(1).db()?;
    let receipt: Option<String> = r.get(6).db()?;
    let closed_at: Option<i64> = r.get(7).db()?;
    let closed_by: Option<String> = r.get(8).db()?;
    Ok(Case {
        id: CaseId(u64::try_from(id).map_err(|_| corrupt("id"))?),
        kind: kind.parse().map_err(|_| corrupt("kind"))?,
        subject: subject(&r.get::<_, String>(2).db()?)?,
        received_at: Timestamp::from_unix(r.get(3).db()?),
        due_at: r.get::<_, Option<i64>>(4).db()?.map(Timestamp::from_unix),
        handled_by: r.get(5).db()?,
        receipt: receipt
            .map(|s| s.parse().map_err(|_| corrupt("receipt")))
            .transpose()?,
        closed: closed_at.map(|t| (Timestamp::from_unix(t), closed_by.unwrap_or_default())),
    })
}

/// The stored columns of an event.
pub(super) struct EventRow {
    pub(super) at: i64,
    pub(super) kind: String,
    pub(super) decisions: Option<String>,
    pub(super) version: Option<String>,
    pub(super) method: Option<String>,
    pub(super) expires_at: Option<i64>,
    pub(super) actor: Option<String>,
}

/// Rebuilds the events of one stored row (a consent row holds every decision of its receipt).
pub(super) fn events_from_row(row: EventRow, out: &mut Vec<Event>) -> Result<(), StoreError> {
    let EventRow {
        at,
        kind,
        decisions,
        version,
        method,
        expires_at,
        actor,
    } = row;
    let corrupt = |what: &str| StoreError::Corrupt(format!("event {kind} at {at}: {what}"));
    let t = Timestamp::from_unix(at);
    match kind.as_str() {
        "restrict" => out.push(Event {
            at: t,
            kind: EventKind::Restrict,
        }),
        "unblock" => out.push(Event {
            at: t,
            kind: EventKind::Unblock,
        }),
        "erase" => out.push(Event {
            at: t,
            kind: EventKind::Erase,
        }),
        "consent" => {
            let policy_version: PolicyVersion = version
                .as_deref()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| corrupt("version"))?;
            let method: Method = method
                .as_deref()
                .and_then(|m| m.parse().ok())
                .ok_or_else(|| corrupt("method"))?;
            let by: Actor = actor
                .as_deref()
                .and_then(|a| a.parse().ok())
                .ok_or_else(|| corrupt("actor"))?;
            for pair in decisions
                .as_deref()
                .ok_or_else(|| corrupt("decisions"))?
                .split(';')
            {
                let (purpose, choice) = pair.split_once('=').ok_or_else(|| corrupt("decision"))?;
                let purpose: PurposeId = purpose.parse().map_err(|_| corrupt("purpose"))?;
                let choice: Choice = choice.parse().map_err(|_| corrupt("choice"))?;
                out.push(Event {
                    at: t,
                    kind: EventKind::Consent(ConsentRecord {
                        purpose,
                        choice,
                        policy_version,
                        method,
                        expires_at: (choice == Choice::Given)
                            .then(|| expires_at.map(Timestamp::from_unix))
                            .flatten(),
                        by,
                    }),
                });
            }
        }
        _ => return Err(corrupt("kind")),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consent_rows_round_trip() {
        let p = |s: &str| s.parse::<PurposeId>().unwrap();
        let decisions =
            BTreeMap::from([(p("marketing"), Choice::Given), (p("b"), Choice::Refused)]);
        let text = decisions_text(&decisions);
        assert_eq!(text, "b=refused;marketing=given");
        let row = |decisions: &str| EventRow {
            at: 10,
            kind: "consent".into(),
            decisions: Some(decisions.into()),
            version: Some("2025-03-26".into()),
            method: Some("custom".into()),
            expires_at: Some(20),
            actor: Some("subject".into()),
        };
        let mut events = Vec::new();
        events_from_row(row(&text), &mut events).unwrap();
        let got: Vec<_> = events
            .iter()
            .map(|e| match &e.kind {
                EventKind::Consent(c) => (c.purpose, c.choice, c.expires_at),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            got,
            [
                (p("b"), Choice::Refused, None),
                (
                    p("marketing"),
                    Choice::Given,
                    Some(Timestamp::from_unix(20))
                )
            ]
        );
        for bad in ["marketing", "marketing=maybe", "Bad=given"] {
            assert!(matches!(
                events_from_row(row(bad), &mut events),
                Err(StoreError::Corrupt(_))
            ));
        }
        assert!(subject("someone@example.org").is_err());
    }
}
