//! Writes a consent request as JSON, without a JSON library and without `core::fmt`: the banner builds
//! its requests with [`ConsentRequest::to_json`], and its wasm has room for neither.

#[allow(unused_imports)]
use crate::prelude::*;

use super::{ConsentRequest, DecidedBy, SubjectSelector};

/// Appends `value` as a JSON string.
///
/// Only `"` and `\` are escaped: every string a request holds is free of control characters by
/// construction (its ids, codes and digits are ASCII from closed alphabets; [`super::PageUrl`],
/// [`super::PersonName`] and [`super::ExternalId`] refuse control characters), and every other
/// character may appear raw in JSON. Byte by byte, copying the runs between escapes whole (they start
/// and end next to an ASCII byte, so on character boundaries): the banner's wasm then needs neither
/// UTF-8 decoding nor encoding for it.
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

/// Appends `"value"`, for ASCII that needs no escaping (ids, language codes, hex digits), byte by byte
/// (no UTF-8 check of the bytes).
fn push_ascii(out: &mut String, value: &[u8]) {
    out.push('"');
    out.extend(value.iter().map(|b| char::from(*b)));
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
        // The keys and punctuation are constant fragments: written as they are, they take the least
        // code. Members in the order of `ConsentRequest::FIELDS` (a test checks it).
        let mut out = String::with_capacity(256);
        out.push_str("{\"policy_version\":\"");
        self.policy_version.date().push_text(&mut out);
        out.push_str("\",\"decisions\":{");
        for (i, (purpose, choice)) in self.decisions.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_ascii(&mut out, purpose.as_bytes());
            out.push_str(":\"");
            out.push_str(choice.as_str());
            out.push('"');
        }
        out.push_str("},\"method\":\"");
        out.push_str(self.method.as_str());
        out.push_str("\",\"language\":");
        push_ascii(&mut out, self.language.as_bytes());
        let point = &self.collection_point;
        out.push_str(",\"collection_point\":{\"kind\":\"");
        out.push_str(point.kind.as_str());
        out.push('"');
        if let Some(build) = &point.build {
            out.push_str(",\"build\":");
            push_ascii(&mut out, build.as_bytes());
        }
        if let Some(page) = &point.page {
            out.push_str(",\"page\":");
            push_string(&mut out, page.as_str());
        }
        out.push('}');
        match &self.subject {
            None => {}
            Some(SubjectSelector::Device(id)) => {
                out.push_str(",\"subject\":{\"device\":\"");
                out.push_str(&id.encoded());
                out.push_str("\"}");
            }
            Some(SubjectSelector::External(id)) => {
                out.push_str(",\"subject\":{\"id\":");
                push_string(&mut out, id.as_str());
                out.push('}');
            }
        }
        if let DecidedBy::Representative { relation, name } = &self.by {
            out.push_str(",\"by\":{\"kind\":\"representative\",\"relation\":\"");
            out.push_str(relation.as_str());
            out.push('"');
            if let Some(name) = name {
                out.push_str(",\"name\":");
                push_string(&mut out, name.as_str());
            }
            out.push('}');
        }
        if let Some(name) = &self.subject_name {
            out.push_str(",\"subject_name\":");
            push_string(&mut out, name.as_str());
        }
        out.push('}');
        out
    }
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
