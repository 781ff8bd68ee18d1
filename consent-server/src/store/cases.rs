//! Rights requests as cases (issue 20.3): the types the store keeps and returns. What a case's due date
//! is, and when it closes, is decided above the store ([`crate::cases`]); the store records it.

use consent_core::{ReceiptId, Timestamp};

use crate::privacy::SubjectRef;

/// What a rights request asks.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
#[non_exhaustive]
pub enum CaseKind {
    /// A withdrawal of consent (a receipt withdrawing at least one purpose, other than an unsubscribe).
    Withdrawal,
    /// A one-click unsubscribe (a withdrawal of the marketing purposes, RFC 8058).
    Unsubscribe,
    /// Restrict (block) processing.
    Restriction,
    /// Lift a restriction.
    Unblocking,
    /// Erase (destroy) the subject's data.
    Erasure,
    /// A copy of the subject's consent history.
    Access,
}

impl CaseKind {
    /// Every kind, in the order `/metrics` and the CLI list them.
    pub const ALL: [CaseKind; 6] = [
        CaseKind::Withdrawal,
        CaseKind::Unsubscribe,
        CaseKind::Restriction,
        CaseKind::Unblocking,
        CaseKind::Erasure,
        CaseKind::Access,
    ];

    /// As stored and shown: `withdrawal`, `unsubscribe`, `restriction`, `unblocking`, `erasure`,
    /// `access`.
    pub const fn as_str(self) -> &'static str {
        match self {
            CaseKind::Withdrawal => "withdrawal",
            CaseKind::Unsubscribe => "unsubscribe",
            CaseKind::Restriction => "restriction",
            CaseKind::Unblocking => "unblocking",
            CaseKind::Erasure => "erasure",
            CaseKind::Access => "access",
        }
    }
}

impl std::fmt::Display for CaseKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for CaseKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        CaseKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown case kind `{s}`"))
    }
}

/// A case's number: 1, 2, 3…
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct CaseId(pub u64);

impl std::fmt::Display for CaseId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A case to open, written in the same transaction as what it records (the receipt or the event).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCase {
    /// What was asked.
    pub kind: CaseKind,
    /// When it arrived (server time).
    pub received_at: Timestamp,
    /// The end of its legal period (overdue from then), if the calendar covers it.
    pub due_at: Option<Timestamp>,
    /// Who handled it: the staff or service token's name, `subject` for a visitor's own choice,
    /// `unsubscribe-link`, `cli:<user>`.
    pub handled_by: String,
    /// Whether the write that records it also completes it (the case is closed at `received_at`), or
    /// it stays open until closed ([`crate::store::Write::CloseCase`]).
    pub done: bool,
}

/// A stored case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    /// Its number.
    pub id: CaseId,
    /// What was asked.
    pub kind: CaseKind,
    /// Whose.
    pub subject: SubjectRef,
    /// When it arrived.
    pub received_at: Timestamp,
    /// The end of its legal period, if the calendar covered it when it arrived.
    pub due_at: Option<Timestamp>,
    /// Who handled it.
    pub handled_by: String,
    /// The receipt that recorded it (withdrawals and unsubscribes).
    pub receipt: Option<ReceiptId>,
    /// When it closed, and who closed it.
    pub closed: Option<(Timestamp, String)>,
}

/// Which cases to list.
#[derive(Clone, Copy, Debug, Default)]
pub struct CaseQuery {
    /// Open cases only.
    pub open_only: bool,
    /// Only this subject's.
    pub subject: Option<SubjectRef>,
    /// At most this many, oldest first.
    pub limit: Option<u64>,
}

/// Subjects with a live record: a receipt not followed by an erasure (issue 20.6).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LiveSubjects {
    /// People (`sub:` pseudonyms): what Law 94-V's size classes count.
    pub persons: u64,
    /// Browsers of anonymous visitors (`dev:`): not people, and one person may have several.
    pub devices: u64,
}
