//! Legal due dates with Kazakhstan's calendar (`examples/invisionu/calendar-kz.toml`), on known dates:
//! the Nauryz holidays, the new year, a transferred working Sunday, requests on holidays and late at night.
#![cfg(feature = "toml")]

use consent_core::{
    BLOCKING_WORKING_DAYS, CalendarError, Date, Day, Timestamp, WITHDRAWAL_WORKING_DAYS, Weekday,
    WorkingDays, YearStatus,
};

const KZ: &str = include_str!("../../examples/invisionu/calendar-kz.toml");

fn kz() -> WorkingDays {
    WorkingDays::from_toml(KZ).unwrap()
}

fn d(s: &str) -> Date {
    s.parse().unwrap()
}

/// The moment `local` (`YYYY-MM-DDTHH:MM`) in Astana (UTC+5).
fn astana(local: &str) -> Timestamp {
    let (date, time) = local.split_once('T').unwrap();
    let (h, m) = time.split_once(':').unwrap();
    let secs = i64::from(d(date).days()) * 86_400
        + h.parse::<i64>().unwrap() * 3600
        + m.parse::<i64>().unwrap() * 60;
    Timestamp::from_unix(secs - 5 * 3600)
}

#[test]
fn the_file_loads_with_its_three_years() {
    let kz = kz();
    assert_eq!(kz.utc_offset_seconds(), 5 * 3600);
    assert_eq!(
        kz.years().collect::<Vec<_>>(),
        [
            (2025, YearStatus::Confirmed),
            (2026, YearStatus::Confirmed),
            (2027, YearStatus::Unconfirmed)
        ]
    );
}

#[test]
fn nauryz() {
    let kz = kz();
    // 2025: Friday 21 to Sunday 23 March, and Monday 24, Tuesday 25 for the two on the weekend.
    assert_eq!(
        kz.day(d("2025-03-21")).unwrap(),
        Day::Holiday("Nauryz meirami")
    );
    assert_eq!(
        kz.day(d("2025-03-22")).unwrap(),
        Day::Holiday("Nauryz meirami")
    );
    assert!(matches!(kz.day(d("2025-03-24")).unwrap(), Day::DayOff(_)));
    assert!(matches!(kz.day(d("2025-03-25")).unwrap(), Day::DayOff(_)));
    assert_eq!(kz.day(d("2025-03-26")).unwrap(), Day::Working);
    // A withdrawal received on Thursday 20 March 2025: 15 working days from Wednesday 26 March.
    assert_eq!(
        kz.due(astana("2025-03-20T15:00"), WITHDRAWAL_WORKING_DAYS)
            .unwrap(),
        d("2025-04-15")
    );
    // A blocking request received on Friday 20 March 2026: Saturday 21 to Wednesday 25 are days off.
    assert_eq!(Weekday::of(d("2026-03-20")), Weekday::Friday);
    assert_eq!(
        kz.due(astana("2026-03-20T11:00"), BLOCKING_WORKING_DAYS)
            .unwrap(),
        d("2026-03-26")
    );
    // 15 working days from the same Friday.
    assert_eq!(kz.due_after(d("2026-03-20"), 15).unwrap(), d("2026-04-15"));
}

#[test]
fn year_boundaries() {
    let kz = kz();
    // Wednesday 31 December 2025: 1-2 January holidays, 3-4 January the weekend.
    assert_eq!(kz.due_after(d("2025-12-31"), 1).unwrap(), d("2026-01-05"));
    // Thursday 25 December 2025, 15 working days: Christmas on Wednesday 7 January is a day off.
    assert_eq!(kz.due_after(d("2025-12-25"), 15).unwrap(), d("2026-01-20"));
    // Past the last year the calendar knows, it refuses to guess.
    assert_eq!(
        kz.due_after(d("2027-12-31"), 1),
        Err(CalendarError::YearNotCovered(2028))
    );
    assert_eq!(
        kz.due_after(d("2027-12-20"), 15),
        Err(CalendarError::YearNotCovered(2028))
    );
    // Sunday 20 December 2026, 15 working days into 2027 (unconfirmed): 1-2 January, Monday 4 January
    // (2 January fell on a Saturday) and Christmas on Thursday 7 January are days off.
    assert_eq!(kz.due_after(d("2026-12-20"), 15).unwrap(), d("2027-01-13"));
    // Nauryz 2027: Sunday 21 to Tuesday 23 March, and Wednesday 24 for the Sunday.
    assert_eq!(kz.due_after(d("2027-03-19"), 1).unwrap(), d("2027-03-25"));
    assert_eq!(
        kz.due_after(d("2024-12-31"), 1),
        Ok(d("2025-01-05")),
        "the event's own day need not be covered"
    );
    assert_eq!(
        kz.day(d("2024-12-31")),
        Err(CalendarError::YearNotCovered(2024))
    );
}

#[test]
fn a_transferred_working_sunday_counts() {
    let kz = kz();
    // 2025: the rest of Sunday 5 January moved to Friday 3 January (Order No. 436).
    assert!(matches!(kz.day(d("2025-01-03")).unwrap(), Day::DayOff(_)));
    assert!(matches!(
        kz.day(d("2025-01-05")).unwrap(),
        Day::TransferredWorkingDay(_)
    ));
    assert_eq!(kz.due_after(d("2025-01-02"), 1).unwrap(), d("2025-01-05"));
}

#[test]
fn requests_on_holidays_and_weekends() {
    let kz = kz();
    // Received on Victory Day, Friday 9 May 2025: the first working day after it is Monday 12 May.
    assert_eq!(
        kz.due(astana("2025-05-09T10:00"), 1).unwrap(),
        d("2025-05-12")
    );
    // On the first day of Kurban Ait, Wednesday 27 May 2026 (a day off, never moved).
    assert_eq!(
        kz.day(d("2026-05-27")).unwrap(),
        Day::Holiday("Kurban Ait, first day (religious: never moved)")
    );
    assert_eq!(kz.due_after(d("2026-05-27"), 1).unwrap(), d("2026-05-28"));
    // On Saturday 9 May 2026 (Victory Day on a weekend: Monday 11 May is the day off).
    assert_eq!(kz.due_after(d("2026-05-09"), 1).unwrap(), d("2026-05-12"));
    // A Friday and the Saturday after it give the same due date.
    assert_eq!(
        kz.due_after(d("2025-06-13"), 1).unwrap(),
        kz.due_after(d("2025-06-14"), 1).unwrap()
    );
    assert_eq!(kz.due_after(d("2025-06-13"), 0).unwrap(), d("2025-06-13"));
}

#[test]
fn the_day_of_arrival_is_the_date_in_astana_whatever_the_hour() {
    let kz = kz();
    // Monday 2 June 2025 at 23:59 in Astana (18:59 UTC): received on the 2nd, due Tuesday 3 June.
    assert_eq!(
        kz.due(astana("2025-06-02T23:59"), 1).unwrap(),
        d("2025-06-03")
    );
    // One minute later it is Tuesday in Astana (still Monday in UTC): due Wednesday 4 June.
    let after_midnight = astana("2025-06-03T00:00");
    assert_eq!(after_midnight.to_string(), "2025-06-02T19:00:00Z");
    assert_eq!(kz.due(after_midnight, 1).unwrap(), d("2025-06-04"));
    // Overdue from midnight at the end of the due date, Astana time.
    assert_eq!(
        kz.deadline(astana("2025-06-02T23:59"), 1).unwrap(),
        astana("2025-06-04T00:00")
    );
}

#[test]
fn month_totals_match_the_official_calendar() {
    let kz = kz();
    let working = |from: &str, to: &str| {
        (d(from).days()..=d(to).days())
            .filter(|n| kz.is_working_day(Date::from_days(*n).unwrap()).unwrap())
            .count()
    };
    // January 2026: 19 working days in a five-day week (Ministry of Labour, via eGov.kz).
    assert_eq!(working("2026-01-01", "2026-01-31"), 19);
    // March 2025: 14 days of rest (Ulysmedia, from eGov.kz), so 17 working days.
    assert_eq!(working("2025-03-01", "2025-03-31"), 17);
    // January 2025: 11 days of rest with the transfer (Kursiv), so 20 working days.
    assert_eq!(working("2025-01-01", "2025-01-31"), 20);
}

#[test]
fn due_dates_count_exactly_the_working_days() {
    let kz = kz();
    let start = d("2025-01-01").days();
    for day in start..start + 700 {
        let event = Date::from_days(day).unwrap();
        for n in [0u32, 1, 2, 5, 15] {
            let Ok(due) = kz.due_after(event, n) else {
                continue;
            };
            let counted = (day + 1..=due.days())
                .filter(|k| kz.is_working_day(Date::from_days(*k).unwrap()).unwrap())
                .count();
            assert_eq!(counted, n as usize, "{event} + {n} = {due}");
            if n > 0 {
                assert!(kz.is_working_day(due).unwrap(), "{event} + {n} = {due}");
            }
        }
    }
}
