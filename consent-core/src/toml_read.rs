//! Reading TOML files written by people (the policy, the working-day calendar): every problem reported at
//! once, with line, column and field path, through the `toml` crate's spanned document.

#[allow(unused_imports)]
use crate::prelude::*;
use core::ops::Range;
use core::str::FromStr;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::error::{ParseError, Problem, ProblemKind};
use crate::{Date, Lang};

pub(crate) type Span = Range<usize>;

/// A value found in the file, with where it is.
pub(crate) struct Val<'a, 'i> {
    pub(crate) v: &'a DeValue<'i>,
    pub(crate) span: Span,
    pub(crate) path: String,
}

/// A table being read: remembers which keys were used, to report the others.
pub(crate) struct Table<'a, 'i> {
    pub(crate) entries: Vec<(&'a str, Span, &'a Spanned<DeValue<'i>>, bool)>,
    pub(crate) span: Span,
    pub(crate) path: String,
}

impl<'a, 'i> Table<'a, 'i> {
    pub(crate) fn new(t: &'a DeTable<'i>, span: Span, path: String) -> Self {
        let entries = t
            .iter()
            .map(|(k, v)| (k.get_ref().as_ref(), k.span(), v, false))
            .collect();
        Table {
            entries,
            span,
            path,
        }
    }

    pub(crate) fn child_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// The value under `key`, if present.
    pub(crate) fn opt(&mut self, key: &str) -> Option<Val<'a, 'i>> {
        let path = self.child_path(key);
        let entry = self.entries.iter_mut().find(|e| e.0 == key)?;
        entry.3 = true;
        Some(Val {
            v: entry.2.get_ref(),
            span: entry.2.span(),
            path,
        })
    }

    /// The value under `key`; reports it missing if absent.
    pub(crate) fn req(&mut self, ld: &mut Loader, key: &str) -> Option<Val<'a, 'i>> {
        let found = self.opt(key);
        if found.is_none() {
            ld.report(&self.span, self.child_path(key), ProblemKind::Missing);
        }
        found
    }

    /// Reports every key that was not read.
    pub(crate) fn finish(self, ld: &mut Loader) {
        for (key, span, _, used) in &self.entries {
            if !used {
                let path = self.child_path(key);
                ld.report(span, path, ProblemKind::UnknownField);
            }
        }
    }
}

/// Collects problems while reading.
pub(crate) struct Loader {
    pub(crate) line_starts: Vec<usize>,
    pub(crate) src_len: usize,
    pub(crate) problems: Vec<(Span, Problem)>,
    pub(crate) langs: Vec<Lang>,
}

impl Loader {
    pub(crate) fn new(src: &str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(src.match_indices('\n').map(|(i, _)| i + 1));
        Loader {
            line_starts,
            src_len: src.len(),
            problems: Vec::new(),
            langs: Vec::new(),
        }
    }

    pub(crate) fn line_col(&self, src: &str, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.src_len);
        let line = self.line_starts.partition_point(|&s| s <= offset).max(1);
        let start = self.line_starts.get(line - 1).copied().unwrap_or(0);
        let col = src
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count())
            + 1;
        (line, col)
    }

    /// The 1-based line of a byte offset.
    pub(crate) fn line_of(&self, offset: usize) -> usize {
        let offset = offset.min(self.src_len);
        self.line_starts.partition_point(|&s| s <= offset).max(1)
    }

    /// Reports a value that breaks a rule, at `span` and `path`.
    pub(crate) fn invalid_at(&mut self, span: &Span, path: String, msg: impl Into<String>) {
        self.report(span, path, ProblemKind::Invalid(msg.into()));
    }

    pub(crate) fn report(&mut self, span: &Span, path: String, kind: ProblemKind) {
        self.problems.push((
            span.clone(),
            Problem {
                line: 0,
                column: 0,
                path,
                kind,
            },
        ));
    }

    pub(crate) fn wrong_type(&mut self, v: &Val, expected: &'static str) {
        let found = v.v.type_str();
        self.report(
            &v.span,
            v.path.clone(),
            ProblemKind::WrongType { expected, found },
        );
    }

    pub(crate) fn invalid(&mut self, v: &Val, msg: impl Into<String>) {
        self.report(&v.span, v.path.clone(), ProblemKind::Invalid(msg.into()));
    }

    pub(crate) fn str<'v>(&mut self, v: &'v Val) -> Option<&'v str> {
        match v.v {
            DeValue::String(s) => Some(s.as_ref()),
            _ => {
                self.wrong_type(v, "string");
                None
            }
        }
    }

    pub(crate) fn bool(&mut self, v: &Val) -> Option<bool> {
        match v.v {
            DeValue::Boolean(b) => Some(*b),
            _ => {
                self.wrong_type(v, "boolean");
                None
            }
        }
    }

    pub(crate) fn int(&mut self, v: &Val, range: core::ops::RangeInclusive<i64>) -> Option<i64> {
        let DeValue::Integer(i) = v.v else {
            self.wrong_type(v, "integer");
            return None;
        };
        match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) if range.contains(&n) => Some(n),
            _ => {
                let msg = format!(
                    "must be an integer from {} to {}",
                    range.start(),
                    range.end()
                );
                self.invalid(v, msg);
                None
            }
        }
    }

    pub(crate) fn table<'a, 'i>(&mut self, v: &Val<'a, 'i>) -> Option<Table<'a, 'i>> {
        match v.v {
            DeValue::Table(t) => Some(Table::new(t, v.span.clone(), v.path.clone())),
            _ => {
                self.wrong_type(v, "table");
                None
            }
        }
    }

    pub(crate) fn array<'a, 'i>(&mut self, v: &Val<'a, 'i>) -> Option<Vec<Val<'a, 'i>>> {
        let DeValue::Array(items) = v.v else {
            self.wrong_type(v, "array");
            return None;
        };
        Some(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| Val {
                    v: item.get_ref(),
                    span: item.span(),
                    path: format!("{}[{i}]", v.path),
                })
                .collect(),
        )
    }

    /// An array of tables, each read by `f`; entries that fail are skipped (their problems reported).
    pub(crate) fn tables<T>(
        &mut self,
        v: Option<Val>,
        mut f: impl FnMut(&mut Loader, Table) -> Option<T>,
    ) -> Vec<(T, Span)> {
        let Some(v) = v else { return Vec::new() };
        let Some(items) = self.array(&v) else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            if let Some(t) = self.table(&item) {
                let span = item.span.clone();
                if let Some(x) = f(self, t) {
                    out.push((x, span));
                }
            }
        }
        out
    }

    /// A string parsed by `FromStr`.
    pub(crate) fn parse<T: FromStr<Err = ParseError>>(&mut self, v: &Val) -> Option<T> {
        let s = self.str(v)?;
        match s.parse() {
            Ok(x) => Some(x),
            Err(e) => {
                self.invalid(v, e.to_string());
                None
            }
        }
    }

    pub(crate) fn strings<T: FromStr<Err = ParseError>>(
        &mut self,
        v: Option<Val>,
    ) -> Option<Vec<(T, Span)>> {
        let v = v?;
        let items = self.array(&v)?;
        let mut out = Vec::with_capacity(items.len());
        for item in &items {
            if let Some(x) = self.parse(item) {
                out.push((x, item.span.clone()));
            }
        }
        Some(out)
    }

    pub(crate) fn date(&mut self, v: &Val) -> Option<Date> {
        let d = match v.v {
            DeValue::String(_) => self.parse(v),
            DeValue::Datetime(dt) => match (dt.date, dt.time, dt.offset) {
                (Some(d), None, None) => {
                    match Date::from_ymd(i32::from(d.year), u32::from(d.month), u32::from(d.day)) {
                        Ok(d) => Some(d),
                        Err(e) => {
                            self.invalid(v, e.to_string());
                            None
                        }
                    }
                }
                _ => {
                    self.invalid(v, "expected a date without time, e.g. 2025-03-26");
                    None
                }
            },
            _ => {
                self.wrong_type(v, "date");
                None
            }
        }?;
        // The format's dates start in 2000 (spec/POLICY.md), later than `Date`'s own range.
        if d.ymd().0 < 2000 {
            self.invalid(v, "expected a date from 2000-01-01 to 9999-12-31");
            return None;
        }
        Some(d)
    }
}

/// Parses `src` as TOML. A file over `max` bytes, or with syntax errors, is reported into `ld` and gives
/// `None`.
pub(crate) fn parse_document<'i>(
    src: &'i str,
    max: usize,
    ld: &mut Loader,
) -> Option<Spanned<DeTable<'i>>> {
    if src.len() > max {
        ld.report(&(0..0), String::new(), ProblemKind::TooLarge(src.len()));
        return None;
    }
    let (doc, errors) = DeTable::parse_recoverable(src);
    if errors.is_empty() {
        return Some(doc);
    }
    for e in errors {
        let span = e.span().unwrap_or(0..0);
        ld.report(
            &span,
            String::new(),
            ProblemKind::Syntax(e.message().to_owned()),
        );
    }
    None
}

impl Loader {
    /// The problems found, with their line and column, in file order; never empty (`incomplete` is
    /// reported if nothing else was).
    pub(crate) fn into_problems(mut self, src: &str, incomplete: &str) -> Vec<Problem> {
        let mut problems = core::mem::take(&mut self.problems);
        for (span, p) in &mut problems {
            let (line, column) = self.line_col(src, span.start);
            p.line = line;
            p.column = column;
        }
        let mut problems: Vec<Problem> = problems.into_iter().map(|(_, p)| p).collect();
        problems.sort_by(|a, b| (a.line, a.column, &a.path).cmp(&(b.line, b.column, &b.path)));
        if problems.is_empty() {
            // Unreachable by construction; never return an empty error.
            problems.push(Problem {
                line: 1,
                column: 1,
                path: String::new(),
                kind: ProblemKind::Invalid(incomplete.into()),
            });
        }
        problems
    }
}
