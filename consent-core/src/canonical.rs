//! Canonical JSON (RFC 8785 subset: no floats) used to hash policies.

#[allow(unused_imports)]
use crate::prelude::*;
use alloc::collections::BTreeMap;

/// A JSON value whose serialisation is canonical: keys sorted by bytes, no whitespace.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) enum Json {
    Bool(bool),
    Int(i64),
    Str(String),
    Arr(Vec<Json>),
    Obj(BTreeMap<String, Json>),
}

impl Json {
    /// Writes the canonical bytes into `out`.
    pub(crate) fn write(&self, out: &mut String) {
        match self {
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Int(i) => out.push_str(&i.to_string()),
            Json::Str(s) => write_str(s, out),
            Json::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Json::Obj(map) => {
                out.push('{');
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_str(k, out);
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }
}

/// A builder for objects, so call sites read like the JSON they make.
#[derive(Default)]
pub(crate) struct Obj(BTreeMap<String, Json>);

impl Obj {
    pub(crate) fn new() -> Self {
        Obj::default()
    }

    pub(crate) fn set(mut self, key: &str, value: impl Into<Json>) -> Self {
        self.0.insert(key.to_owned(), value.into());
        self
    }

    pub(crate) fn set_opt(self, key: &str, value: Option<impl Into<Json>>) -> Self {
        match value {
            Some(v) => self.set(key, v),
            None => self,
        }
    }
}

impl From<Obj> for Json {
    fn from(o: Obj) -> Json {
        Json::Obj(o.0)
    }
}
impl From<&str> for Json {
    fn from(s: &str) -> Json {
        Json::Str(s.to_owned())
    }
}
impl From<String> for Json {
    fn from(s: String) -> Json {
        Json::Str(s)
    }
}
impl From<bool> for Json {
    fn from(b: bool) -> Json {
        Json::Bool(b)
    }
}
impl From<u8> for Json {
    fn from(i: u8) -> Json {
        Json::Int(i64::from(i))
    }
}
impl<T: Into<Json>> From<Vec<T>> for Json {
    fn from(v: Vec<T>) -> Json {
        Json::Arr(v.into_iter().map(Into::into).collect())
    }
}

/// Writes a JSON string the way RFC 8785 does.
fn write_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_rfc8785() {
        let mut out = String::new();
        write_str("a\"\\\u{8}\u{c}\n\r\t\u{1}\u{1f}/é€😀", &mut out);
        assert_eq!(out, r#""a\"\\\b\f\n\r\t\u0001\u001f/é€😀""#);
    }

    #[test]
    fn sorts_keys_and_has_no_whitespace() {
        let j: Json = Obj::new()
            .set("b", vec![1u8, 2])
            .set("a", Obj::new().set("z", true).set("y", "x"))
            .into();
        let mut out = String::new();
        j.write(&mut out);
        assert_eq!(out, r#"{"a":{"y":"x","z":true},"b":[1,2]}"#);
    }
}
