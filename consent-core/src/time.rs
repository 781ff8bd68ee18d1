//! Calendar dates, policy versions and timestamps, with no clock: callers pass the time in.

#[allow(unused_imports)]
use crate::prelude::*;
use core::fmt;

use crate::ParseError;

const SECONDS_PER_DAY: i64 = 86_400;

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
const fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number (inverse of [`days_from_civil`]).
const fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

const fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A calendar date between 1970-01-01 and 9999-12-31.
///
/// ```
/// use consent_core::Date;
/// let d: Date = "2025-03-26".parse()?;
/// assert_eq!(d.to_string(), "2025-03-26");
/// assert!("2025-02-30".parse::<Date>().is_err());
/// # Ok::<(), consent_core::ParseError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    days: i32,
}

impl Date {
    /// Builds a date from year, month and day, if it exists and lies in 1970..=9999.
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Result<Date, ParseError> {
        if !(1970..=9999).contains(&year) || !(1..=12).contains(&month) {
            return Err(ParseError::Date);
        }
        if day == 0 || day > days_in_month(i64::from(year), month) {
            return Err(ParseError::Date);
        }
        let days = days_from_civil(i64::from(year), month, day);
        Ok(Date {
            days: i32::try_from(days).map_err(|_| ParseError::Date)?,
        })
    }

    /// Year, month (1-12) and day (1-31).
    pub fn ymd(self) -> (i32, u32, u32) {
        let (y, m, d) = civil_from_days(i64::from(self.days));
        (i32::try_from(y).unwrap_or(i32::MAX), m, d)
    }

    /// Appends `YYYY-MM-DD`, as [`Display`](fmt::Display) writes it but without `core::fmt`.
    pub(crate) fn push_text(self, out: &mut String) {
        let (y, m, d) = self.ymd();
        // Years are 1970 to 9999: four digits.
        for (n, width) in [(y.unsigned_abs(), 4), (m, 2), (d, 2)] {
            if width == 2 {
                out.push('-');
            }
            let mut div = if width == 4 { 1000 } else { 10 };
            while div > 0 {
                out.push(char::from(b'0' + (n / div % 10) as u8));
                div /= 10;
            }
        }
    }

    /// The date `days` days after 1970-01-01.
    pub fn from_days(days: i32) -> Result<Date, ParseError> {
        // 9999-12-31 is day 2,932,896.
        if (0..=2_932_896).contains(&days) {
            Ok(Date { days })
        } else {
            Err(ParseError::Date)
        }
    }

    /// Days since 1970-01-01.
    pub fn days(self) -> i32 {
        self.days
    }

    /// Midnight UTC at the start of this date.
    pub fn start(self) -> Timestamp {
        Timestamp(i64::from(self.days) * SECONDS_PER_DAY)
    }
}

impl core::str::FromStr for Date {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let b = s.as_bytes();
        let digits = |r: core::ops::Range<usize>| -> Result<u32, ParseError> {
            let part = b.get(r).ok_or(ParseError::Date)?;
            part.iter().try_fold(0u32, |acc, c| {
                if c.is_ascii_digit() {
                    Ok(acc * 10 + u32::from(c - b'0'))
                } else {
                    Err(ParseError::Date)
                }
            })
        };
        if b.len() != 10 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
            return Err(ParseError::Date);
        }
        let y = i32::try_from(digits(0..4)?).map_err(|_| ParseError::Date)?;
        Date::from_ymd(y, digits(5..7)?, digits(8..10)?)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

impl fmt::Debug for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A policy version: the policy's "last updated" date. Later dates are newer versions.
///
/// ```
/// use consent_core::PolicyVersion;
/// let v1: PolicyVersion = "2025-03-26".parse()?;
/// let v2: PolicyVersion = "2026-06-01".parse()?;
/// assert!(v1 < v2);
/// # Ok::<(), consent_core::ParseError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PolicyVersion(Date);

impl PolicyVersion {
    /// The version of a policy updated on `date`.
    pub const fn from_date(date: Date) -> Self {
        PolicyVersion(date)
    }

    /// The date this version was published.
    pub const fn date(self) -> Date {
        self.0
    }

    /// The version as written in requests and URLs (`2025-03-26`), as [`Display`](fmt::Display)
    /// writes it but without `core::fmt` (the banner's size budget has no room for the formatting
    /// machinery).
    ///
    /// ```
    /// let v: consent_core::PolicyVersion = "2031-01-02".parse()?;
    /// assert_eq!(v.text(), "2031-01-02");
    /// assert_eq!(v.text(), v.to_string());
    /// # Ok::<(), consent_core::ParseError>(())
    /// ```
    pub fn text(self) -> String {
        let mut out = String::with_capacity(10);
        self.0.push_text(&mut out);
        out
    }
}

impl core::str::FromStr for PolicyVersion {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        s.parse()
            .map(PolicyVersion)
            .map_err(|_| ParseError::Version)
    }
}

impl fmt::Display for PolicyVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for PolicyVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// A point in time: whole seconds since 1970-01-01T00:00:00Z.
///
/// The library never reads a clock; the server passes its own time in (the server's clock is
/// authoritative).
///
/// ```
/// use consent_core::Timestamp;
/// let t = Timestamp::from_unix(1_742_947_200);
/// assert_eq!(t.to_string(), "2025-03-26T00:00:00Z");
/// assert_eq!(t.add_months(6).to_string(), "2025-09-26T00:00:00Z");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The moment `secs` seconds after the Unix epoch.
    pub const fn from_unix(secs: i64) -> Self {
        Timestamp(secs)
    }

    /// Seconds since the Unix epoch.
    pub const fn as_unix(self) -> i64 {
        self.0
    }

    /// This moment plus `secs` seconds, saturating at the ends of the range.
    pub const fn add_seconds(self, secs: i64) -> Self {
        Timestamp(self.0.saturating_add(secs))
    }

    /// The same time of day `months` calendar months later; the day is clamped to the month's length
    /// (31 August + 6 months = 28 or 29 February).
    pub fn add_months(self, months: u32) -> Self {
        let days = self.0.div_euclid(SECONDS_PER_DAY);
        let secs = self.0.rem_euclid(SECONDS_PER_DAY);
        let (y, m, d) = civil_from_days(days);
        let total = i64::from(m - 1) + i64::from(months);
        let y = y + total.div_euclid(12);
        let m = u32::try_from(total.rem_euclid(12)).unwrap_or(0) + 1;
        let d = d.min(days_in_month(y, m));
        Timestamp(
            days_from_civil(y, m, d)
                .saturating_mul(SECONDS_PER_DAY)
                .saturating_add(secs),
        )
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC, e.g. `2025-03-26T09:30:00Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0.div_euclid(SECONDS_PER_DAY);
        let secs = self.0.rem_euclid(SECONDS_PER_DAY);
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn text_is_what_display_writes() {
        for days in (0..=2_932_896).step_by(997).chain([0, 59, 2_932_896]) {
            let d = Date::from_days(days).unwrap();
            let mut text = String::new();
            d.push_text(&mut text);
            assert_eq!(text, d.to_string());
            assert_eq!(PolicyVersion::from_date(d).text(), text);
        }
    }

    #[test]
    fn known_dates() {
        assert_eq!(Date::from_ymd(1970, 1, 1).unwrap().start(), Timestamp(0));
        assert_eq!(
            "2024-02-29".parse::<Date>().unwrap().to_string(),
            "2024-02-29"
        );
        for bad in [
            "2023-02-29",
            "2025-13-01",
            "2025-00-10",
            "25-03-26",
            "2025-3-26",
            "2025-03-26x",
            "1969-12-31",
            "２０２５-03-26",
        ] {
            assert!(bad.parse::<Date>().is_err(), "{bad}");
        }
    }

    #[test]
    fn add_months_clamps_to_month_end() {
        let t = Date::from_ymd(2025, 8, 31)
            .unwrap()
            .start()
            .add_seconds(3600);
        assert_eq!(t.add_months(6).to_string(), "2026-02-28T01:00:00Z");
        assert_eq!(t.add_months(18).to_string(), "2027-02-28T01:00:00Z");
        let leap = Date::from_ymd(2027, 8, 31).unwrap().start();
        assert_eq!(leap.add_months(6).to_string(), "2028-02-29T00:00:00Z");
    }

    proptest! {
        #[test]
        fn dates_round_trip(days in 0i32..2_932_896) {
            let d = Date { days };
            let (y, m, dd) = d.ymd();
            prop_assert_eq!(Date::from_ymd(y, m, dd).unwrap(), d);
            prop_assert_eq!(d.to_string().parse::<Date>().unwrap(), d);
        }
    }
}
