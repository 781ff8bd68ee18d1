//! Reading a JSON object body into a type, with the errors every API body gets: a body that is not
//! JSON, or has something after the object, is `malformed_json`; a body that is JSON but not an object,
//! or whose field is wrong, is `invalid_field` naming the field (also a missing one).

#[allow(unused_imports)]
use crate::prelude::*;

use serde::de::DeserializeOwned;

use super::{RequestError, RequestErrorCode};

/// Reads `body` as one JSON object of type `T`, nothing after it. Errors name the field at fault
/// (`decisions.analytics`, `by.kind`), a missing field included; the consent server reads every JSON
/// body of its API with this, so that all of them are refused the same way.
///
/// ```
/// use consent_core::{RequestErrorCode, read_json_object};
///
/// #[derive(serde::Deserialize)]
/// struct Unsubscribe {
///     #[allow(dead_code)]
///     purpose: String,
/// }
/// assert!(read_json_object::<Unsubscribe>(br#"{"purpose": "newsletter"}"#).is_ok());
/// let e = read_json_object::<Unsubscribe>(b"{}").err().unwrap();
/// assert_eq!((e.code, e.field.as_deref()), (RequestErrorCode::InvalidField, Some("purpose")));
/// let e = read_json_object::<Unsubscribe>(b"[1]").err().unwrap();
/// assert_eq!(e.code, RequestErrorCode::InvalidField);
/// let e = read_json_object::<Unsubscribe>(br#"{"purpose": "x"} {}"#).err().unwrap();
/// assert_eq!(e.code, RequestErrorCode::MalformedJson);
/// ```
pub fn read_json_object<T: DeserializeOwned>(body: &[u8]) -> Result<T, RequestError> {
    let malformed = |message: String| RequestError {
        code: RequestErrorCode::MalformedJson,
        field: None,
        message,
    };
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => {}
        Some(_) => {
            return Err(RequestError {
                code: RequestErrorCode::InvalidField,
                field: None,
                message: "the body must be a JSON object".into(),
            });
        }
        None => {
            return Err(malformed(
                "the body is empty; expected a JSON object".into(),
            ));
        }
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = inner.to_string();
        if inner.is_syntax() || inner.is_eof() {
            return malformed(message);
        }
        // "missing field `x`" names the field only in the message: put it in `field` too.
        let missing = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
            .map(|name| {
                if path == "." {
                    name.to_owned()
                } else {
                    format!("{path}.{name}")
                }
            });
        RequestError {
            code: RequestErrorCode::InvalidField,
            field: missing.or_else(|| (path != ".").then_some(path)),
            message,
        }
    })?;
    de.end().map_err(|e| malformed(e.to_string()))?;
    Ok(value)
}
