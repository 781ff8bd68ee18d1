//! Writes a consent request as JSON, without a JSON library and without `core::fmt`: the banner builds
//! its requests with [`ConsentRequest::to_json`], and its wasm has room for neither.

#[allow(unused_imports)]
use crate::prelude::*;

use super::{ConsentRequest, DecidedBy, SubjectSelector};
use crate::PolicyVersion;
use crate::canonical::write_str;

/// An object being written: `{`, then `"key":value` pairs separated by commas.
struct Object<'a> {
    out: &'a mut String,
    empty: bool,
}

impl<'a> Object<'a> {
    fn open(out: &'a mut String) -> Object<'a> {
        out.push('{');
        Object { out, empty: true }
    }

    /// Starts the member `key`; the caller writes its value into the returned string.
    fn key(&mut self, key: &str) -> &mut String {
        if !self.empty {
            self.out.push(',');
        }
        self.empty = false;
        write_str(key, self.out);
        self.out.push(':');
        self.out
    }

    fn str(&mut self, key: &str, value: &str) {
        write_str(value, self.key(key));
    }

    fn close(self) {
        self.out.push('}');
    }
}

/// Appends `n` in decimal with at least `width` digits.
fn push_digits(out: &mut String, n: u32, width: usize) {
    let mut digits = [b'0'; 10];
    let mut i = digits.len();
    let mut n = n;
    while n > 0 || digits.len() - i < width {
        i -= 1;
        if let Some(d) = digits.get_mut(i) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if i == 0 {
            break;
        }
    }
    out.extend(digits.iter().skip(i).map(|d| char::from(*d)));
}

/// `"YYYY-MM-DD"`.
fn push_version(out: &mut String, version: PolicyVersion) {
    let (y, m, d) = version.date().ymd();
    out.push('"');
    push_digits(out, y.unsigned_abs(), 4);
    out.push('-');
    push_digits(out, m, 2);
    out.push('-');
    push_digits(out, d, 2);
    out.push('"');
}

impl ConsentRequest {
    /// The request as JSON, as the server reads it: members in the order of
    /// [`ConsentRequest::FIELDS`], no whitespace, absent optional members left out (and `by` for the
    /// subject), strings escaped as RFC 8785 does. Reading it back gives the same request.
    ///
    /// ```
    /// use consent_core::{Choice, CollectionKind, CollectionPointRequest, ConsentRequest, DecidedBy,
    ///     Lang, Method, Relation};
    /// let mut point = CollectionPointRequest::new(CollectionKind::Form);
    /// point.page = Some("https://invisionu.education/apply".parse()?);
    /// let mut r = ConsentRequest::new(
    ///     "2025-03-26".parse()?,
    ///     [("marketing".parse()?, Choice::Refused)].into_iter().collect(),
    ///     Method::Form,
    ///     Lang::RU,
    ///     point,
    /// );
    /// r.by = DecidedBy::Representative { relation: Relation::Parent, name: Some("Асель \"А\"".parse()?) };
    /// assert_eq!(
    ///     r.to_json(),
    ///     concat!(
    ///         r#"{"policy_version":"2025-03-26","decisions":{"marketing":"refused"},"method":"form","#,
    ///         r#""language":"ru","collection_point":{"kind":"form","page":"https://invisionu.education/apply"},"#,
    ///         r#""by":{"kind":"representative","relation":"parent","name":"Асель \"А\""}}"#,
    ///     )
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(256);
        let mut o = Object::open(&mut out);
        push_version(o.key("policy_version"), self.policy_version);
        let mut decisions = Object::open(o.key("decisions"));
        for (purpose, choice) in self.decisions.iter() {
            decisions.str(purpose.as_str(), choice.as_str());
        }
        decisions.close();
        o.str("method", self.method.as_str());
        o.str("language", self.language.as_str());
        let point = &self.collection_point;
        let mut p = Object::open(o.key("collection_point"));
        p.str("kind", point.kind.as_str());
        if let Some(build) = &point.build {
            let out = p.key("build");
            out.push('"');
            build.push_hex(out);
            out.push('"');
        }
        if let Some(page) = &point.page {
            p.str("page", page.as_str());
        }
        p.close();
        if let Some(subject) = &self.subject {
            let mut s = Object::open(o.key("subject"));
            match subject {
                SubjectSelector::Device(id) => s.str("device", &id.encoded()),
                SubjectSelector::External(id) => s.str("id", id.as_str()),
            }
            s.close();
        }
        if let DecidedBy::Representative { relation, name } = &self.by {
            let mut b = Object::open(o.key("by"));
            b.str("kind", "representative");
            b.str("relation", relation.as_str());
            if let Some(name) = name {
                b.str("name", name.as_str());
            }
            b.close();
        }
        if let Some(name) = &self.subject_name {
            o.str("subject_name", name.as_str());
        }
        o.close();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Date;

    #[test]
    fn versions_are_written_with_leading_zeros() {
        for (y, m, d) in [(1970, 1, 1), (2025, 3, 26), (9999, 12, 31), (2031, 10, 2)] {
            let mut out = String::new();
            push_version(
                &mut out,
                PolicyVersion::from_date(Date::from_ymd(y, m, d).unwrap()),
            );
            assert_eq!(out, format!("\"{y:04}-{m:02}-{d:02}\""));
        }
        let mut out = String::new();
        push_digits(&mut out, u32::MAX, 1);
        push_digits(&mut out, 0, 1);
        push_digits(&mut out, 0, 0);
        push_digits(&mut out, 7, 3);
        assert_eq!(out, "42949672950007");
    }
}
