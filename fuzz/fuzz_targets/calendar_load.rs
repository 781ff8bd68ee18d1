//! Working-day calendars: any text loads or reports problems, never panics; problems are in file order
//! and inside the file; a calendar that loads answers every due date in its years, and a due date of n > 0
//! working days is a working day.
#![no_main]

use consent_core::{CalendarError, Date, WorkingDays};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match WorkingDays::from_toml(text) {
        Ok(c) => {
            let years: Vec<i32> = c.years().map(|(y, _)| y).collect();
            for year in years.iter().take(3) {
                let Ok(first) = Date::from_ymd(*year, 1, 1) else {
                    continue;
                };
                for day in (first.days()..first.days() + 366).step_by(7) {
                    let Ok(event) = Date::from_days(day) else {
                        continue;
                    };
                    for n in [0, 1, 15] {
                        match c.due_after(event, n) {
                            Ok(due) if n > 0 => assert_eq!(c.is_working_day(due), Ok(true)),
                            Ok(due) => assert_eq!(due, event),
                            Err(CalendarError::YearNotCovered(y)) => assert!(!years.contains(&y)),
                            Err(e) => assert_eq!(e, CalendarError::OutOfRange),
                        }
                    }
                }
            }
        }
        Err(CalendarError::Invalid(problems)) => {
            assert!(!problems.is_empty());
            let lines = text.split('\n').count().max(1);
            for w in problems.windows(2) {
                assert!(
                    (w[0].line, w[0].column) <= (w[1].line, w[1].column),
                    "problems out of order"
                );
            }
            for p in &problems {
                assert!(
                    p.line >= 1 && p.line <= lines,
                    "line {} outside the file",
                    p.line
                );
            }
        }
        Err(e) => panic!("loading gave {e}"),
    }
});
