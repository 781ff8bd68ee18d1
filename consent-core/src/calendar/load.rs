//! Loading a calendar from TOML, reporting every problem with line, column and field path.

#[allow(unused_imports)]
use crate::prelude::*;
use std::collections::BTreeMap;

use super::{CalendarError, Listed, MAX_CALENDAR_BYTES, Weekday, WorkingDays, Year, YearStatus};
use crate::error::ProblemKind;
use crate::toml_read::{Loader, Table, Val, parse_document};
use crate::{Country, Date};
use toml::de::DeValue;

const MAX_TEXT_BYTES: usize = 1024;
/// The largest UTC offset in use (Kiribati, +14:00), and the smallest (−12:00).
const OFFSET_RANGE: core::ops::RangeInclusive<i32> = -12 * 3600..=14 * 3600;

pub(super) fn load(src: &str) -> Result<WorkingDays, CalendarError> {
    let mut ld = Loader::new(src);
    let Some(doc) = parse_document(src, MAX_CALENDAR_BYTES, &mut ld) else {
        return Err(CalendarError::Invalid(ld.into_problems(src, "")));
    };
    let mut root = Table::new(doc.get_ref(), doc.span(), String::new());
    let calendar = read(&mut ld, &mut root);
    root.finish(&mut ld);
    match calendar {
        Some(c) if ld.problems.is_empty() => Ok(c),
        _ => Err(CalendarError::Invalid(
            ld.into_problems(src, "incomplete calendar"),
        )),
    }
}

fn read(ld: &mut Loader, root: &mut Table) -> Option<WorkingDays> {
    let format = root.req(ld, "format").and_then(|v| ld.int(&v, 1..=1));
    let country = root.req(ld, "country").and_then(|v| {
        let c = ld.parse::<Country>(&v)?;
        if c == Country::Unspecified {
            ld.invalid(&v, "expected an ISO 3166-1 alpha-2 code");
            return None;
        }
        Some(c)
    });
    let utc_offset = root.req(ld, "utc_offset").and_then(|v| offset(ld, &v));
    let weekend = root.req(ld, "weekend").and_then(|v| weekend(ld, &v));
    let years = root.req(ld, "years");
    if let Some(v) = &years
        && matches!(v.v, DeValue::Array(a) if a.is_empty())
    {
        ld.invalid(v, "list at least one year");
    }
    let mut by_year = BTreeMap::new();
    let mut first_line = BTreeMap::new();
    for ((number, path, data), span) in ld.tables(years, |ld, t| read_year(ld, t, weekend)) {
        if let Some(first) = first_line.get(&number) {
            let first_line: usize = *first;
            ld.report(
                &span,
                path,
                ProblemKind::DuplicateId {
                    id: number.to_string(),
                    first_line,
                },
            );
            continue;
        }
        first_line.insert(number, ld.line_of(span.start));
        by_year.insert(number, data);
    }
    let _ = (format?, country?);
    Some(WorkingDays {
        utc_offset: utc_offset?,
        weekend: weekend?,
        years: by_year,
    })
}

/// `+HH:MM` or `-HH:MM`, as seconds.
fn offset(ld: &mut Loader, v: &Val) -> Option<i32> {
    let s = ld.str(v)?;
    let b = s.as_bytes();
    let digit = |i: usize| {
        b.get(i)
            .filter(|c| c.is_ascii_digit())
            .map(|c| i32::from(c - b'0'))
    };
    let parsed = match (b.len(), b.first(), b.get(3)) {
        (6, Some(sign @ (b'+' | b'-')), Some(b':')) => {
            match (digit(1), digit(2), digit(4), digit(5)) {
                (Some(h1), Some(h2), Some(m1), Some(m2)) if m1 < 6 => {
                    let secs = (h1 * 10 + h2) * 3600 + (m1 * 10 + m2) * 60;
                    Some(if *sign == b'-' { -secs } else { secs })
                }
                _ => None,
            }
        }
        _ => None,
    };
    match parsed {
        Some(secs) if OFFSET_RANGE.contains(&secs) => Some(secs),
        _ => {
            ld.invalid(
                v,
                "expected a UTC offset written +HH:MM or -HH:MM, from -12:00 to +14:00 (Kazakhstan: +05:00)",
            );
            None
        }
    }
}

fn weekend(ld: &mut Loader, v: &Val) -> Option<[bool; 7]> {
    let items = ld.array(v)?;
    let mut out = [false; 7];
    let mut ok = true;
    for item in &items {
        let Some(day) = ld.parse::<Weekday>(item) else {
            ok = false;
            continue;
        };
        let slot = out.get_mut(day.index())?;
        if *slot {
            ld.invalid(item, format!("{day} is listed twice"));
            ok = false;
        }
        *slot = true;
    }
    if out.iter().all(|d| *d) {
        ld.invalid(v, "a week with no working day");
        ok = false;
    }
    ok.then_some(out)
}

/// A required short text.
fn text(ld: &mut Loader, t: &mut Table, key: &str) -> Option<String> {
    let v = t.req(ld, key)?;
    let s = ld.str(&v)?;
    if s.trim().is_empty() || s.len() > MAX_TEXT_BYTES || s.chars().any(char::is_control) {
        ld.invalid(
            &v,
            format!("expected 1 to {MAX_TEXT_BYTES} bytes of text without control characters"),
        );
        return None;
    }
    Some(s.to_owned())
}

/// A year's table: its number, the path of `year` and its days. Entries that depend on the weekend are
/// checked against it only if it is valid.
fn read_year(
    ld: &mut Loader,
    mut t: Table,
    weekend: Option<[bool; 7]>,
) -> Option<(i32, String, Year)> {
    let path = format!("{}.year", t.path);
    let year = t
        .req(ld, "year")
        .and_then(|v| ld.int(&v, 2000..=9999))
        .and_then(|y| i32::try_from(y).ok());
    let status = t.req(ld, "status").and_then(|v| match ld.str(&v)? {
        "confirmed" => Some(YearStatus::Confirmed),
        "unconfirmed" => Some(YearStatus::Unconfirmed),
        _ => {
            ld.invalid(&v, "expected \"confirmed\" or \"unconfirmed\"");
            None
        }
    });
    let sources = t.req(ld, "sources");
    if let Some(v) = &sources
        && let Some(items) = ld.array(v)
    {
        if items.is_empty() {
            ld.invalid(
                v,
                "name at least one source: the act or the official calendar",
            );
        }
        for item in &items {
            match ld.str(item) {
                Some(s) if s.trim().is_empty() || s.chars().any(char::is_control) => {
                    ld.invalid(item, "expected a text without control characters");
                }
                _ => {}
            }
        }
    }
    let mut days: BTreeMap<Date, Listed> = BTreeMap::new();
    let mut first_line: BTreeMap<Date, usize> = BTreeMap::new();
    for (key, label) in [
        ("holidays", "name"),
        ("days_off", "reason"),
        ("working_days", "reason"),
    ] {
        let v = t.opt(key);
        let entries = ld.tables(v, |ld, mut e| {
            let date = e.req(ld, "date");
            let date = date.and_then(|d| ld.date(&d).map(|x| (x, d.span.clone(), d.path.clone())));
            let words = text(ld, &mut e, label);
            e.finish(ld);
            Some((date?, words?))
        });
        for (((date, span, path), words), _) in entries {
            let (y, _, _) = date.ymd();
            if Some(y) != year {
                ld.invalid_at(&span, path, "the date is not in this year");
                continue;
            }
            let line = ld.line_of(span.start);
            if let Some(first) = first_line.get(&date) {
                ld.report(
                    &span,
                    path,
                    ProblemKind::DuplicateId {
                        id: date.to_string(),
                        first_line: *first,
                    },
                );
                continue;
            }
            let on_weekend =
                weekend.map(|w| w.get(Weekday::of(date).index()).copied().unwrap_or(false));
            let listed = match key {
                "holidays" => Listed::Holiday(words),
                "days_off" if on_weekend == Some(true) => {
                    ld.invalid_at(
                        &span,
                        path,
                        format!(
                            "{date} is a {}, already a day off: a holiday on a weekend moves to a working day",
                            Weekday::of(date)
                        ),
                    );
                    continue;
                }
                "days_off" => Listed::DayOff(words),
                _ if on_weekend == Some(false) => {
                    ld.invalid_at(
                        &span,
                        path,
                        format!(
                            "{date} is a {}, already a working day: list weekend days made working days",
                            Weekday::of(date)
                        ),
                    );
                    continue;
                }
                _ => Listed::Working(words),
            };
            first_line.insert(date, line);
            days.insert(date, listed);
        }
    }
    t.finish(ld);
    Some((
        year?,
        path,
        Year {
            status: status?,
            days,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Problem;

    const HEAD: &str = "format = 1\ncountry = \"KZ\"\nutc_offset = \"+05:00\"\nweekend = [\"saturday\", \"sunday\"]\n";

    fn problems(src: &str) -> Vec<Problem> {
        match load(src) {
            Err(CalendarError::Invalid(p)) => p,
            other => panic!("expected problems, got {other:?}"),
        }
    }

    fn year(body: &str) -> String {
        format!(
            "{HEAD}\n[[years]]\nyear = 2025\nstatus = \"confirmed\"\nsources = [\"Labour Code\"]\n{body}"
        )
    }

    #[test]
    fn a_small_calendar_loads() {
        let c = load(&year(
            "holidays = [{ date = 2025-03-21, name = \"Nauryz\" }]\n\
             days_off = [{ date = 2025-03-24, reason = \"Nauryz on Saturday\" }]\n\
             working_days = [{ date = 2025-01-05, reason = \"order No. 436\" }]\n",
        ))
        .unwrap();
        assert_eq!(c.utc_offset_seconds(), 5 * 3600);
        assert_eq!(
            c.years().collect::<Vec<_>>(),
            [(2025, YearStatus::Confirmed)]
        );
    }

    #[test]
    fn every_problem_is_reported_with_its_place() {
        let src = format!(
            "{}\n[[years]]\nyear = 2025\nstatus = \"maybe\"\nsources = []\ncolour = 1\n\
             holidays = [{{ date = 2026-01-01, name = \"New Year\" }}, {{ date = 2025-01-01 }}]\n\
             days_off = [{{ date = 2025-03-22, reason = \"a Saturday\" }}]\n\
             working_days = [{{ date = 2025-03-24, reason = \"a Monday\" }}, {{ date = 2025-01-05, reason = \"\" }}]\n",
            HEAD.replace("+05:00", "+5")
        );
        let found: Vec<(usize, String, String)> = problems(&src)
            .into_iter()
            .map(|p| (p.line, p.path, p.kind.to_string()))
            .collect();
        let expect = [
            (3, "utc_offset", "UTC offset"),
            (8, "years[0].status", "\"confirmed\" or \"unconfirmed\""),
            (9, "years[0].sources", "at least one source"),
            (10, "years[0].colour", "unknown field"),
            (11, "years[0].holidays[0].date", "not in this year"),
            (11, "years[0].holidays[1].name", "missing"),
            (12, "years[0].days_off[0].date", "already a day off"),
            (13, "years[0].working_days[0].date", "already a working day"),
            (13, "years[0].working_days[1].reason", "1 to 1024 bytes"),
        ];
        for (line, path, words) in expect {
            assert!(
                found
                    .iter()
                    .any(|(l, p, k)| *l == line && p == path && k.contains(words)),
                "{line} {path} {words}: {found:#?}"
            );
        }
        assert_eq!(found.len(), expect.len(), "{found:#?}");
    }

    #[test]
    fn duplicates_and_missing_parts_are_refused() {
        let dup = year(
            "holidays = [{ date = 2025-01-01, name = \"New Year\" }]\n\
             days_off = [{ date = 2025-01-01, reason = \"again\" }]\n",
        );
        assert!(matches!(
            &problems(&dup)[..],
            [p] if matches!(p.kind, ProblemKind::DuplicateId { first_line: 10, .. })
        ));
        let two_years = format!(
            "{}\n[[years]]\nyear = 2025\nstatus = \"unconfirmed\"\nsources = [\"x\"]\n",
            year("")
        );
        assert_eq!(problems(&two_years).len(), 1);
        let all_week = HEAD.replace(
            "[\"saturday\", \"sunday\"]",
            "[\"monday\", \"tuesday\", \"wednesday\", \"thursday\", \"friday\", \"saturday\", \"sunday\"]",
        );
        assert!(problems(&format!("{all_week}years = []\n")).len() >= 2);
        let twice = HEAD.replace("\"sunday\"", "\"sunday\", \"sunday\"");
        assert!(
            problems(&format!("{twice}years = []\n"))
                .iter()
                .any(|p| p.path == "weekend[2]" && p.kind.to_string().contains("listed twice"))
        );
        assert!(problems("format = 2\n").iter().any(|p| p.path == "format"));
        assert!(
            problems("format = 1\nyears = [")
                .iter()
                .all(|p| p.line == 2)
        );
        assert!(
            problems(&format!("{HEAD}years = [1]\n"))
                .iter()
                .any(|p| p.path == "years[0]")
        );
    }

    #[test]
    fn offsets_parse_strictly() {
        let mut ld = Loader::new("");
        for (s, secs) in [
            ("+05:00", Some(18_000)),
            ("-03:30", Some(-12_600)),
            ("+14:00", Some(50_400)),
        ] {
            let v = toml::de::DeValue::String(s.into());
            let val = Val {
                v: &v,
                span: 0..0,
                path: String::new(),
            };
            assert_eq!(offset(&mut ld, &val), secs, "{s}");
        }
        for s in [
            "+5",
            "05:00",
            "+05:60",
            "+15:00",
            "+05:00:00",
            "+0a:00",
            "−05:00",
        ] {
            let v = toml::de::DeValue::String(s.into());
            let val = Val {
                v: &v,
                span: 0..0,
                path: String::new(),
            };
            assert_eq!(offset(&mut ld, &val), None, "{s}");
        }
    }
}
