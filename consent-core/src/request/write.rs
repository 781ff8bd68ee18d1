//! Writes a consent request, without a JSON library and without `core::fmt`: one walk over its members
//! ([`ConsentRequest::write`]) that a [`RequestWriter`] receives. [`ConsentRequest::to_json`] is the
//! walk written as JSON text; the banner, whose wasm has room for neither serde nor the formatting
//! machinery, receives the same walk as JS objects, which the browser's `JSON.stringify` writes. The
//! member names and their order live here only.

#[allow(unused_imports)]
use crate::prelude::*;

use super::{CollectionPointRequest, ConsentRequest, DecidedBy, SubjectSelector};

/// Receives the members of a consent request's JSON form, in order, from [`ConsentRequest::write`]:
/// string members, and object members, which are opened, filled with their own members, and closed.
///
/// A member is written only when present (absent optional members are left out, and `by` when the
/// subject decided), and every value is a string; objects hold only strings (they are never nested
/// deeper than one level). Values are text as it is, unescaped: a JSON writer escapes them.
///
/// ```
/// use consent_core::{CollectionKind, CollectionPointRequest, ConsentRequest, Lang, Method,
///     RequestWriter};
///
/// /// Writes `path=value` lines.
/// #[derive(Default)]
/// struct Lines { path: Vec<String>, out: String }
/// impl RequestWriter for Lines {
///     fn begin(&mut self, name: &str) { self.path.push(name.to_owned()); }
///     fn string(&mut self, name: &str, value: &str) {
///         for p in &self.path { self.out += p; self.out += "."; }
///         self.out += &format!("{name}={value}\n");
///     }
///     fn end(&mut self) { self.path.pop(); }
/// }
///
/// let r = ConsentRequest::new(
///     "2025-03-26".parse()?,
///     [("cookies-analytics".parse()?, consent_core::Choice::Given)].into_iter().collect(),
///     Method::Custom,
///     Lang::EN,
///     CollectionPointRequest::new(CollectionKind::Banner),
/// );
/// let mut lines = Lines::default();
/// r.write(&mut lines);
/// assert_eq!(lines.out, "policy_version=2025-03-26\ndecisions.cookies-analytics=given\n\
///     method=custom\nlanguage=en\ncollection_point.kind=banner\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait RequestWriter {
    /// Opens the object member `name`: the members written until the matching
    /// [`RequestWriter::end`] are its own.
    fn begin(&mut self, name: &str);
    /// The string member `name`, with `value`.
    fn string(&mut self, name: &str, value: &str);
    /// Closes the object opened last.
    fn end(&mut self);
}

/// `bytes`, ASCII (ids, codes, hex digits), as text in `buf`: byte by byte, without the UTF-8
/// validation `str::from_utf8` would bring into the banner's wasm.
fn ascii<'a>(buf: &'a mut String, bytes: &[u8]) -> &'a str {
    buf.clear();
    buf.extend(bytes.iter().map(|b| char::from(*b)));
    buf
}

impl ConsentRequest {
    /// Walks the request's members, in the order of [`ConsentRequest::FIELDS`] (and of the `FIELDS`
    /// of its parts), into `w`: what [`ConsentRequest::to_json`] writes as JSON and the banner as JS
    /// objects. Optional members that are absent are left out, and `by` for the subject; a
    /// representative's `relation` is always written. See [`RequestWriter`] for an example.
    pub fn write(&self, w: &mut impl RequestWriter) {
        let mut buf = String::new();
        w.string("policy_version", &self.policy_version.text());
        w.begin("decisions");
        for (purpose, choice) in &self.decisions {
            w.string(ascii(&mut buf, purpose.as_bytes()), choice.as_str());
        }
        w.end();
        w.string("method", self.method.as_str());
        w.string("language", ascii(&mut buf, self.language.as_bytes()));
        self.collection_point.write(w, &mut buf);
        if let Some(subject) = &self.subject {
            subject.write(w);
        }
        if let DecidedBy::Representative { relation, name } = &self.by {
            w.begin("by");
            w.string("kind", "representative");
            w.string("relation", relation.as_str());
            if let Some(name) = name {
                w.string("name", name.as_str());
            }
            w.end();
        }
        if let Some(name) = &self.subject_name {
            w.string("subject_name", name.as_str());
        }
    }

    /// The request as JSON, as the server reads it: [`ConsentRequest::write`]'s members, no
    /// whitespace, strings escaped as RFC 8785 does. Reading it back gives the same request.
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
        let mut json = Json {
            out: String::with_capacity(256),
            first: true,
        };
        json.out.push('{');
        self.write(&mut json);
        json.out.push('}');
        json.out
    }
}

impl CollectionPointRequest {
    /// Writes the `collection_point` member (see [`ConsentRequest::write`]), with `buf` for text.
    fn write(&self, w: &mut impl RequestWriter, buf: &mut String) {
        w.begin("collection_point");
        w.string("kind", self.kind.as_str());
        if let Some(build) = &self.build {
            w.string("build", ascii(buf, build.as_bytes()));
        }
        if let Some(page) = &self.page {
            w.string("page", page.as_str());
        }
        w.end();
    }
}

impl SubjectSelector {
    /// Writes the `subject` member, as [`ConsentRequest::write`] does: for a request kept as JS
    /// objects, the banner adds its device id when it sends it.
    ///
    /// ```
    /// use consent_core::{RequestWriter, SubjectId, SubjectSelector};
    /// # struct Pairs(Vec<String>);
    /// # impl RequestWriter for Pairs {
    /// #     fn begin(&mut self, name: &str) { self.0.push(format!("{name}{{")); }
    /// #     fn string(&mut self, name: &str, value: &str) { self.0.push(format!("{name}={value}")); }
    /// #     fn end(&mut self) { self.0.push("}".into()); }
    /// # }
    /// let mut w = Pairs(Vec::new());
    /// SubjectSelector::Device(SubjectId([7; 16])).write(&mut w);
    /// assert_eq!(w.0, ["subject{", "device=BwcHBwcHBwcHBwcHBwcHBw", "}"]);
    /// ```
    pub fn write(&self, w: &mut impl RequestWriter) {
        w.begin("subject");
        match self {
            SubjectSelector::Device(id) => w.string("device", &id.encoded()),
            SubjectSelector::External(id) => w.string("id", id.as_str()),
        }
        w.end();
    }
}

/// [`ConsentRequest::to_json`]'s writer: JSON text, members separated by commas.
struct Json {
    out: String,
    /// The next member is the first of its object (no comma before it).
    first: bool,
}

impl Json {
    /// `"name":`, after a comma unless it is the object's first member.
    fn key(&mut self, name: &str) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        push_string(&mut self.out, name);
        self.out.push(':');
    }
}

impl RequestWriter for Json {
    fn begin(&mut self, name: &str) {
        self.key(name);
        self.out.push('{');
        self.first = true;
    }

    fn string(&mut self, name: &str, value: &str) {
        self.key(name);
        push_string(&mut self.out, value);
    }

    fn end(&mut self) {
        self.out.push('}');
        self.first = false;
    }
}

/// Appends `value` as a JSON string.
///
/// Only `"` and `\` are escaped: every string a request holds is free of control characters by
/// construction (its ids, codes and digits are ASCII from closed alphabets; [`super::PageUrl`],
/// [`super::PersonName`] and [`super::ExternalId`] refuse control characters), and every other
/// character may appear raw in JSON. The runs between escapes are copied whole (they start and end next
/// to an ASCII byte, so on character boundaries).
fn push_string(out: &mut String, value: &str) {
    out.push('"');
    let mut run = 0;
    for (i, b) in value.bytes().enumerate() {
        if b == b'"' || b == b'\\' {
            out.push_str(value.get(run..i).unwrap_or_default());
            out.push('\\');
            run = i;
        }
    }
    out.push_str(value.get(run..).unwrap_or_default());
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_escape_quotes_and_backslashes_only() {
        for (value, json) in [
            ("", r#""""#),
            ("a", r#""a""#),
            ("\"", r#""\"""#),
            ("\\", r#""\\""#),
            ("a\"b\\c\"", r#""a\"b\\c\"""#),
            ("жé😀/", "\"жé😀/\""),
        ] {
            let mut out = String::new();
            push_string(&mut out, value);
            assert_eq!(out, json);
            assert_eq!(serde_json::from_str::<String>(&out).unwrap(), value);
        }
    }
}
