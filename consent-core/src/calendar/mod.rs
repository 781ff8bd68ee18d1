//! A working-day calendar, loaded from a file the operator edits, and the legal due dates it gives:
//! Law 94-V gives 15 working days to stop processing after a withdrawal (Art. 8(7)) and one working day
//! to block or destroy data on request (Art. 25(2)(8)).
//!
//! How a period is counted (`spec/SPEC.md` §7, `DESIGN.md` "Working days and due dates"): the day a
//! request arrives is the calendar date at the calendar's UTC offset, whatever the hour; the period starts
//! on the next day and counts working days only; the due date is the last of them, and the period runs to
//! the end of it (midnight, local time).

mod load;

#[allow(unused_imports)]
use crate::prelude::*;
use core::fmt;
use std::collections::BTreeMap;

use crate::{Date, Problem, Timestamp};

/// Largest calendar file accepted.
pub const MAX_CALENDAR_BYTES: usize = 1024 * 1024;
/// Working days to stop processing after a withdrawal of consent (Law 94-V Art. 8(7)).
pub const WITHDRAWAL_WORKING_DAYS: u32 = 15;
/// Working days to block, correct or destroy data on the subject's request (Law 94-V Art. 25(2)(8)).
pub const BLOCKING_WORKING_DAYS: u32 = 1;

const SECONDS_PER_DAY: i64 = 86_400;

/// A day of the week.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Weekday {
    /// Monday.
    Monday,
    /// Tuesday.
    Tuesday,
    /// Wednesday.
    Wednesday,
    /// Thursday.
    Thursday,
    /// Friday.
    Friday,
    /// Saturday.
    Saturday,
    /// Sunday.
    Sunday,
}

impl Weekday {
    const ALL: [Weekday; 7] = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
        Weekday::Sunday,
    ];

    /// The day of the week of `date`.
    ///
    /// ```
    /// use consent_core::{Date, Weekday};
    /// assert_eq!(Weekday::of("2026-03-20".parse()?), Weekday::Friday);
    /// # Ok::<(), consent_core::ParseError>(())
    /// ```
    pub fn of(date: Date) -> Weekday {
        // 1970-01-01 was a Thursday.
        let i = (i64::from(date.days()) + 3).rem_euclid(7);
        Weekday::ALL
            .get(usize::try_from(i).unwrap_or(0))
            .copied()
            .unwrap_or(Weekday::Monday)
    }

    /// The name as the calendar file writes it: `monday` … `sunday`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Weekday::Monday => "monday",
            Weekday::Tuesday => "tuesday",
            Weekday::Wednesday => "wednesday",
            Weekday::Thursday => "thursday",
            Weekday::Friday => "friday",
            Weekday::Saturday => "saturday",
            Weekday::Sunday => "sunday",
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

impl core::str::FromStr for Weekday {
    type Err = crate::ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Weekday::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or(crate::ParseError::Unknown("weekday (monday … sunday)"))
    }
}

impl fmt::Display for Weekday {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a year's data was checked against the official acts for that year.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum YearStatus {
    /// Holidays and transfers checked against the year's official acts.
    Confirmed,
    /// What the law itself implies; the year's transfers still to be checked against the official act.
    Unconfirmed,
}

/// What kind of day a date is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum Day<'c> {
    /// An ordinary working day.
    Working,
    /// A weekend day made a working day (a transfer by the competent authority), and why.
    TransferredWorkingDay(&'c str),
    /// A weekend day.
    Weekend,
    /// A public holiday (a day off), with its name.
    Holiday(&'c str),
    /// A weekday made a day off (a holiday on a weekend moved to the next working day, or a transfer),
    /// and why.
    DayOff(&'c str),
}

impl Day<'_> {
    /// Whether work is done on this day.
    pub fn is_working(self) -> bool {
        matches!(self, Day::Working | Day::TransferredWorkingDay(_))
    }
}

/// One year of a calendar: its public holidays, extra days off and working weekend days.
#[derive(Clone, PartialEq, Eq, Debug)]
struct Year {
    status: YearStatus,
    /// Every date listed, with what it is (a date is listed once).
    days: BTreeMap<Date, Listed>,
}

#[derive(Clone, PartialEq, Eq, Debug)]
enum Listed {
    Holiday(String),
    DayOff(String),
    Working(String),
}

/// Why a calendar could not be loaded, or could not answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CalendarError {
    /// The calendar file has problems; all of them are listed, in file order.
    #[error("invalid calendar: {} problem(s)\n{}", .0.len(), crate::error::problem_list(.0))]
    Invalid(Vec<Problem>),
    /// A date in a year the calendar has no data for: its holidays and transfers are unknown.
    #[error("the calendar has no data for {0}: add that year's holidays and transfers")]
    YearNotCovered(i32),
    /// A time or date outside the range of dates (1970 to 9999).
    #[error("date out of range")]
    OutOfRange,
}

/// A working-day calendar: the weekend, and per year the public holidays, the extra days off and the
/// weekend days made working days, with the UTC offset that decides which day a moment falls on.
/// Loaded from TOML ([`WorkingDays::from_toml`], format in `spec/SPEC.md` §7); the operator edits the
/// file (for Kazakhstan: `examples/invisionu/calendar-kz.toml`).
///
/// ```
/// use consent_core::{BLOCKING_WORKING_DAYS, Date, Timestamp, WITHDRAWAL_WORKING_DAYS, WorkingDays};
/// let kz = WorkingDays::from_toml(include_str!("../../../examples/invisionu/calendar-kz.toml"))?;
/// // A withdrawal received on Thursday 20 March 2025, just before the Nauryz holidays
/// // (21-23 March, and 24-25 March for the two that fell on the weekend):
/// let received = Timestamp::from_unix(1_742_464_800); // 2025-03-20T15:00:00+05:00
/// assert_eq!(kz.due(received, WITHDRAWAL_WORKING_DAYS)?, "2025-04-15".parse::<Date>()?);
/// // A request to block, received on Friday 20 March 2026: the next working day is Thursday 26 March.
/// let friday: Date = "2026-03-20".parse()?;
/// assert_eq!(kz.due_after(friday, BLOCKING_WORKING_DAYS)?, "2026-03-26".parse::<Date>()?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct WorkingDays {
    utc_offset: i32,
    weekend: [bool; 7],
    years: BTreeMap<i32, Year>,
}

impl WorkingDays {
    /// Loads and checks a calendar written in TOML (format in `spec/SPEC.md` §7).
    ///
    /// Every problem is reported at once, in file order, with line, column and field path. Never panics.
    ///
    /// ```
    /// use consent_core::{CalendarError, WorkingDays};
    /// let err = WorkingDays::from_toml("format = 1\nutc_offset = \"+5\"\n").unwrap_err();
    /// let CalendarError::Invalid(problems) = err else { unreachable!() };
    /// let offset = problems.iter().find(|p| p.path == "utc_offset").unwrap();
    /// assert_eq!((offset.line, offset.column), (2, 14));
    /// // Every problem, one per line: `2:14: utc_offset: invalid value: expected a UTC offset …`,
    /// // and the missing `country`, `weekend` and `years`.
    /// assert_eq!(problems.len(), 4);
    /// ```
    pub fn from_toml(src: &str) -> Result<WorkingDays, CalendarError> {
        load::load(src)
    }

    /// The offset from UTC, in seconds, of the calendar's local time.
    pub fn utc_offset_seconds(&self) -> i32 {
        self.utc_offset
    }

    /// The years the calendar has data for, with their status.
    pub fn years(&self) -> impl Iterator<Item = (i32, YearStatus)> + '_ {
        self.years.iter().map(|(y, data)| (*y, data.status))
    }

    /// The local date (at the calendar's UTC offset) of the moment `t`.
    pub fn local_date(&self, t: Timestamp) -> Result<Date, CalendarError> {
        let local = t
            .as_unix()
            .checked_add(i64::from(self.utc_offset))
            .ok_or(CalendarError::OutOfRange)?;
        let days = i32::try_from(local.div_euclid(SECONDS_PER_DAY))
            .map_err(|_| CalendarError::OutOfRange)?;
        Date::from_days(days).map_err(|_| CalendarError::OutOfRange)
    }

    /// What kind of day `date` is. Fails for a year the calendar has no data for.
    pub fn day(&self, date: Date) -> Result<Day<'_>, CalendarError> {
        let year = date.ymd().0;
        let data = self
            .years
            .get(&year)
            .ok_or(CalendarError::YearNotCovered(year))?;
        Ok(match data.days.get(&date) {
            Some(Listed::Holiday(name)) => Day::Holiday(name),
            Some(Listed::DayOff(why)) => Day::DayOff(why),
            Some(Listed::Working(why)) => Day::TransferredWorkingDay(why),
            None if self.is_weekend(Weekday::of(date)) => Day::Weekend,
            None => Day::Working,
        })
    }

    /// Whether `date` is a working day.
    pub fn is_working_day(&self, date: Date) -> Result<bool, CalendarError> {
        Ok(self.day(date)?.is_working())
    }

    fn is_weekend(&self, d: Weekday) -> bool {
        self.weekend.get(d.index()).copied().unwrap_or(false)
    }

    /// The due date of a period of `working_days` working days that starts with an event on
    /// `event_day`: the period begins on the next day, counts working days only, and ends with the last
    /// of them (the action is due by the end of that day). An event on a non-working day counts the
    /// same way: the first working day after it is day 1. With 0 working days, the event's own day.
    /// Fails if the count runs into a year the calendar has no data for.
    ///
    /// ```
    /// use consent_core::{Date, WorkingDays};
    /// let kz = WorkingDays::from_toml(include_str!("../../../examples/invisionu/calendar-kz.toml"))?;
    /// let d = |s: &str| s.parse::<Date>();
    /// // Received on Saturday 21 March 2026 (Nauryz): the next working day is Thursday 26 March.
    /// assert_eq!(kz.due_after(d("2026-03-21")?, 1)?, d("2026-03-26")?);
    /// // Across the new year: received on Wednesday 31 December 2025, 1-2 January are holidays and
    /// // 3-4 January 2026 the weekend.
    /// assert_eq!(kz.due_after(d("2025-12-31")?, 1)?, d("2026-01-05")?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn due_after(&self, event_day: Date, working_days: u32) -> Result<Date, CalendarError> {
        let mut day = event_day;
        let mut left = working_days;
        while left > 0 {
            day = Date::from_days(day.days().saturating_add(1))
                .map_err(|_| CalendarError::OutOfRange)?;
            if self.is_working_day(day)? {
                left -= 1;
            }
        }
        Ok(day)
    }

    /// The due date of a period of `working_days` working days for a request received at `received`:
    /// [`WorkingDays::due_after`] the local date of `received`, whatever the hour (a request received
    /// at 23:59 local time was received that day).
    pub fn due(&self, received: Timestamp, working_days: u32) -> Result<Date, CalendarError> {
        self.due_after(self.local_date(received)?, working_days)
    }

    /// The moment the period of [`WorkingDays::due`] ends: midnight, local time, at the end of the due
    /// date. A request still open at or after this moment is overdue.
    ///
    /// ```
    /// use consent_core::{Timestamp, WorkingDays};
    /// let kz = WorkingDays::from_toml(include_str!("../../../examples/invisionu/calendar-kz.toml"))?;
    /// // Received Monday 2 June 2025, 10:00 in Astana: due Tuesday 3 June, so overdue from
    /// // Wednesday 4 June 00:00 +05:00 (3 June 19:00 UTC).
    /// let received = Timestamp::from_unix(1_748_840_400);
    /// assert_eq!(kz.deadline(received, 1)?.to_string(), "2025-06-03T19:00:00Z");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn deadline(
        &self,
        received: Timestamp,
        working_days: u32,
    ) -> Result<Timestamp, CalendarError> {
        let due = self.due(received, working_days)?;
        Ok(Timestamp::from_unix(
            (i64::from(due.days()) + 1) * SECONDS_PER_DAY - i64::from(self.utc_offset),
        ))
    }
}
