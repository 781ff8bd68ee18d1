//! The columns both engines store, and how they are read back: the `decisions` text of a receipt row,
//! subjects, the events a row stands for, and cases. One definition, so that SQLite and PostgreSQL cannot
//! disagree about a stored format; each engine reads its own rows into these. A value that does not
//! parse is [`StoreError::Corrupt`].

use std::collections::BTreeMap;

use consent_core::{
    Actor, Choice, ConsentRecord, Event, EventKind, Method, PolicyVersion, PurposeId, Timestamp,
};

use crate::privacy::SubjectRef;
use crate::store::{Case, CaseId, StoreError};

/// The `decisions` column: `purpose=choice` pairs joined by `;`.
pub(crate) fn decisions_text(decisions: &BTreeMap<PurposeId, Choice>) -> String {
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
pub(crate) fn subject(s: &str) -> Result<SubjectRef, StoreError> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("subject `{s}` is not a pseudonym")))
}

/// The stored columns of a case.
pub(crate) struct CaseRow {
    pub(crate) id: i64,
    pub(crate) kind: String,
    pub(crate) subject: String,
    pub(crate) received_at: i64,
    pub(crate) due_at: Option<i64>,
    pub(crate) handled_by: String,
    pub(crate) receipt: Option<String>,
    pub(crate) closed_at: Option<i64>,
    pub(crate) closed_by: Option<String>,
}

impl CaseRow {
    /// The case these columns hold.
    pub(crate) fn parse(self) -> Result<Case, StoreError> {
        let id = self.id;
        let corrupt = |what: &str| StoreError::Corrupt(format!("case {id}: {what}"));
        Ok(Case {
            id: CaseId(u64::try_from(id).map_err(|_| corrupt("id"))?),
            kind: self.kind.parse().map_err(|_| corrupt("kind"))?,
            subject: subject(&self.subject)?,
            received_at: Timestamp::from_unix(self.received_at),
            due_at: self.due_at.map(Timestamp::from_unix),
            handled_by: self.handled_by,
            receipt: self
                .receipt
                .map(|s| s.parse().map_err(|_| corrupt("receipt")))
                .transpose()?,
            closed: self
                .closed_at
                .map(|t| (Timestamp::from_unix(t), self.closed_by.unwrap_or_default())),
        })
    }
}

/// The stored columns of an event.
pub(crate) struct EventRow {
    pub(crate) at: i64,
    pub(crate) kind: String,
    pub(crate) decisions: Option<String>,
    pub(crate) version: Option<String>,
    pub(crate) method: Option<String>,
    pub(crate) expires_at: Option<i64>,
    pub(crate) actor: Option<String>,
}

/// Rebuilds the events of one stored row (a consent row holds every decision of its receipt).
pub(crate) fn events_from_row(row: EventRow, out: &mut Vec<Event>) -> Result<(), StoreError> {
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
