//! Rights requests as cases (issue 20.3): which kind a request is, its legal due date in working days
//! on the configured calendar, and whether it is overdue. The store keeps them ([`crate::store::Case`]).
//!
//! Periods (Law 94-V): 15 working days to stop processing after a withdrawal (Art. 8(7)), which an
//! unsubscribe is; one working day to block or destroy on request (Art. 25(2)(8)), which restrictions
//! and erasures are. Unblocking and access have no period in the issue: unblocking gets the blocking
//! one (it is the same register), access [`ACCESS_WORKING_DAYS`] (`DESIGN.md`, "Rights requests as
//! cases", says what to confirm).

use consent_core::{
    BLOCKING_WORKING_DAYS, CalendarError, Timestamp, WITHDRAWAL_WORKING_DAYS, WorkingDays,
};

use crate::store::{Case, CaseKind, NewCase};

/// The calendar used when none is configured: `examples/invisionu/calendar-kz.toml`, built in.
pub const BUNDLED_CALENDAR: &str = include_str!("../../examples/invisionu/calendar-kz.toml");

/// Working days to answer an access request: the operator's choice until checked against the law
/// (not given by the issue).
pub const ACCESS_WORKING_DAYS: u32 = 3;

/// The working days of a case's legal period.
///
/// ```
/// use consent_server::cases::working_days;
/// use consent_server::store::CaseKind;
/// assert_eq!(working_days(CaseKind::Withdrawal), 15);
/// assert_eq!(working_days(CaseKind::Erasure), 1);
/// ```
pub const fn working_days(kind: CaseKind) -> u32 {
    match kind {
        CaseKind::Withdrawal | CaseKind::Unsubscribe => WITHDRAWAL_WORKING_DAYS,
        CaseKind::Restriction | CaseKind::Unblocking | CaseKind::Erasure => BLOCKING_WORKING_DAYS,
        CaseKind::Access => ACCESS_WORKING_DAYS,
    }
}

/// The bundled calendar.
pub fn bundled_calendar() -> WorkingDays {
    WorkingDays::from_toml(BUNDLED_CALENDAR).expect("the bundled calendar is valid (tested)")
}

/// The moment a case of `kind` received at `received` becomes overdue (midnight after its due date,
/// local time), or `None` when the calendar does not cover its period (a year not in the file yet).
pub fn deadline(
    calendar: &WorkingDays,
    kind: CaseKind,
    received: Timestamp,
) -> Result<Timestamp, CalendarError> {
    calendar.deadline(received, working_days(kind))
}

/// A case to open for a request of `kind` received at `received`, handled by `handled_by`; `done`
/// when the write that records it completes it. A period the calendar does not cover is logged and
/// left undated (the case is still recorded: a request is never refused for the calendar's sake);
/// [`due_at`] dates it again once the calendar has the year.
pub fn new_case(
    calendar: &WorkingDays,
    kind: CaseKind,
    received: Timestamp,
    handled_by: impl Into<String>,
    done: bool,
) -> NewCase {
    let due_at = match deadline(calendar, kind, received) {
        Ok(t) => Some(t),
        Err(e) => {
            tracing::warn!(kind = kind.as_str(), error = %e, "case recorded without a due date");
            None
        }
    };
    NewCase {
        kind,
        received_at: received,
        due_at,
        handled_by: handled_by.into(),
        done,
    }
}

/// A case's due moment: as stored, or, for a case stored undated, computed now from `calendar`.
pub fn due_at(calendar: &WorkingDays, case: &Case) -> Option<Timestamp> {
    case.due_at
        .or_else(|| deadline(calendar, case.kind, case.received_at).ok())
}

/// Whether `case` is open at `now` past its due moment.
pub fn overdue(calendar: &WorkingDays, case: &Case, now: Timestamp) -> bool {
    case.closed.is_none() && due_at(calendar, case).is_some_and(|d| now >= d)
}

/// Open cases by kind at `now`: (open, overdue, undated) per kind, in [`CaseKind::ALL`]'s order.
pub fn counts(calendar: &WorkingDays, open: &[Case], now: Timestamp) -> Vec<(CaseKind, [u64; 3])> {
    CaseKind::ALL
        .iter()
        .map(|k| {
            let mut n = [0u64; 3];
            for c in open.iter().filter(|c| c.kind == *k) {
                n[0] += 1;
                n[1] += u64::from(overdue(calendar, c, now));
                n[2] += u64::from(due_at(calendar, c).is_none());
            }
            (*k, n)
        })
        .collect()
}

/// A warning when the calendar's last year ends within 60 days of `now`, or `now` is past it, or a
/// year is unconfirmed: due dates past its end cannot be computed.
pub fn calendar_warnings(calendar: &WorkingDays, now: Timestamp) -> Vec<String> {
    let mut out = Vec::new();
    for (year, status) in calendar.years() {
        if status == consent_core::YearStatus::Unconfirmed {
            out.push(format!(
                "the calendar's year {year} is unconfirmed: check it against the official calendar"
            ));
        }
    }
    let last = calendar.years().map(|(y, _)| y).max();
    let soon = Timestamp::from_unix(now.as_unix() + 60 * 86_400);
    if let (Ok(today), Some(last)) = (calendar.local_date(soon), last)
        && today.ymd().0 > last
    {
        out.push(format!(
            "the calendar ends with {last}: add {} (its holidays and transfers) before the year ends, \
             or due dates past it are unknown",
            last + 1
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privacy::SubjectRef;
    use crate::store::CaseId;
    use consent_core::SubjectId;

    /// `2025-03-20T15:00:00+05:00` and the like, as a timestamp.
    fn at(s: &str) -> Timestamp {
        let (date, time) = s.split_once('T').unwrap();
        let d: consent_core::Date = date.parse().unwrap();
        let h: i64 = time[..2].parse().unwrap();
        let m: i64 = time[3..5].parse().unwrap();
        Timestamp::from_unix(d.start().as_unix() + h * 3600 + m * 60 - 5 * 3600)
    }

    fn case(kind: CaseKind, received: Timestamp, closed: bool) -> Case {
        Case {
            id: CaseId(1),
            kind,
            subject: SubjectRef::Subject(SubjectId([1; 16])),
            received_at: received,
            due_at: None,
            handled_by: "t".into(),
            receipt: None,
            closed: closed.then(|| (received, "t".into())),
        }
    }

    #[test]
    fn due_dates_around_nauryz() {
        let kz = bundled_calendar();
        // A withdrawal on Thursday 20 March 2025: Nauryz 21-23 March and the days off on 24-25 March
        // are skipped; 15 working days end on Tuesday 15 April, overdue from its midnight.
        let c = new_case(
            &kz,
            CaseKind::Withdrawal,
            at("2025-03-20T15:00"),
            "t",
            false,
        );
        assert_eq!(c.due_at, Some(at("2025-04-16T00:00")));
        // An erasure on Friday 20 March 2026: Nauryz (21-23 March, and the days off for the weekend
        // ones) puts the one working day on Thursday 26 March.
        let e = new_case(&kz, CaseKind::Erasure, at("2026-03-20T23:59"), "t", true);
        assert_eq!(e.due_at, Some(at("2026-03-27T00:00")));
        // A restriction on the Saturday of Nauryz counts from the next working day too.
        let r = new_case(
            &kz,
            CaseKind::Restriction,
            at("2026-03-21T10:00"),
            "t",
            true,
        );
        assert_eq!(r.due_at, Some(at("2026-03-27T00:00")));
        // Unsubscribe counts as a withdrawal.
        let u = new_case(
            &kz,
            CaseKind::Unsubscribe,
            at("2025-03-20T15:00"),
            "t",
            true,
        );
        assert_eq!(u.due_at, c.due_at);
    }

    #[test]
    fn overdue_from_midnight_after_the_due_date_and_never_once_closed() {
        let kz = bundled_calendar();
        let received = at("2026-03-20T10:00");
        let open = case(CaseKind::Erasure, received, false);
        assert!(!overdue(&kz, &open, at("2026-03-26T23:59")));
        assert!(overdue(&kz, &open, at("2026-03-27T00:00")));
        assert!(!overdue(
            &kz,
            &case(CaseKind::Erasure, received, true),
            at("2027-01-01T00:00")
        ));
        let n = counts(&kz, &[open], at("2026-03-27T00:00"));
        assert_eq!(n[4], (CaseKind::Erasure, [1, 1, 0]));
    }

    #[test]
    fn a_period_past_the_calendar_is_undated_not_refused() {
        let kz = bundled_calendar();
        // 15 working days from 20 December 2027 run into 2028, which the file does not have yet.
        let c = new_case(
            &kz,
            CaseKind::Withdrawal,
            at("2027-12-20T10:00"),
            "t",
            false,
        );
        assert_eq!(c.due_at, None);
        let stored = case(CaseKind::Withdrawal, at("2027-12-20T10:00"), false);
        assert!(!overdue(&kz, &stored, at("2028-06-01T00:00")));
        assert_eq!(
            counts(&kz, &[stored], at("2027-12-21T00:00"))[0].1,
            [1, 0, 1]
        );
        // An erasure the same day is dated: one working day stays within 2027.
        assert!(
            new_case(&kz, CaseKind::Erasure, at("2027-12-20T10:00"), "t", true)
                .due_at
                .is_some()
        );
        let w = calendar_warnings(&kz, at("2027-12-06T00:00"));
        assert!(w.iter().any(|w| w.contains("add 2028")), "{w:?}");
        // 2027 is in the file as the Labour Code implies it, not yet confirmed: said too.
        assert!(w.iter().any(|w| w.contains("2027 is unconfirmed")), "{w:?}");
        assert!(
            calendar_warnings(&kz, at("2026-06-01T00:00"))
                .iter()
                .all(|w| w.contains("unconfirmed")),
        );
    }
}
