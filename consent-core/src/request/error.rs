//! Why a consent request was refused: a stable code, the field at fault, and a message for people.

#[allow(unused_imports)]
use crate::prelude::*;
use core::fmt;

use crate::purpose::vocabulary;

vocabulary! {
    /// The machine-readable code of a [`RequestError`], the `error.code` of the server's answer. The
    /// HTTP status the server answers with is in each variant's description.
    ///
    /// ```
    /// use consent_core::RequestErrorCode;
    /// assert_eq!(RequestErrorCode::PolicyOutdated.as_str(), "policy_outdated");
    /// assert_eq!("forbidden".parse::<RequestErrorCode>()?, RequestErrorCode::Forbidden);
    /// # Ok::<(), consent_core::ParseError>(())
    /// ```
    RequestErrorCode, "request error code" {
        /// The body is not JSON, or there is more after it (400).
        MalformedJson = "malformed_json",
        /// A field is missing, unknown, of the wrong JSON type, or breaks its rule; or the body is not a
        /// JSON object (422).
        InvalidField = "invalid_field",
        /// A decision names a purpose the policy does not have (422).
        UnknownPurpose = "unknown_purpose",
        /// A decision names a purpose that needs no consent (422).
        ConsentNotRequired = "consent_not_required",
        /// The method disagrees with the decisions, or method `gpc` comes without the signal (422).
        InconsistentMethod = "inconsistent_method",
        /// An earlier version of the policy that the server still serves (409): fetch the current one and
        /// ask again.
        PolicyOutdated = "policy_outdated",
        /// A policy version the server does not know (422).
        UnknownPolicyVersion = "unknown_policy_version",
        /// The caller may not record this ([`crate::Caller`]) (403).
        Forbidden = "forbidden",
        /// A decision names a purpose that the request's collection point does not ask for: the
        /// policy's `collection_points` of that purpose do not list its kind (422). The banner asks
        /// for cookie purposes only.
        OutsideCollectionPoint = "outside_collection_point",
    }
}

/// Why a consent request was refused: what the server answers as `{"error": {"code", "message",
/// "field"}}`.
///
/// ```
/// use consent_core::{ConsentRequest, RequestErrorCode};
/// let err = ConsentRequest::from_json(br#"{"policy_version": "soon"}"#).unwrap_err();
/// assert_eq!(err.code, RequestErrorCode::InvalidField);
/// assert_eq!(err.field.as_deref(), Some("decisions"));
/// assert!(err.message.starts_with("missing field `decisions`"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestError {
    /// What kind of problem.
    pub code: RequestErrorCode,
    /// The field at fault, as a path (`decisions.marketing`, `collection_point.kind`); `None` when no
    /// single field is.
    pub field: Option<String>,
    /// What is wrong, for people (lower case, no trailing period).
    pub message: String,
}

impl RequestError {
    /// An error about `field`.
    pub(crate) fn at(
        code: RequestErrorCode,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> RequestError {
        RequestError {
            code,
            field: Some(field.into()),
            message: message.into(),
        }
    }

    /// `invalid_field` about `field`.
    pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> RequestError {
        RequestError::at(RequestErrorCode::InvalidField, field, message)
    }

    /// `forbidden` about `field`: "this token may not `what`".
    pub(crate) fn forbidden(field: &str, what: &str) -> RequestError {
        RequestError::at(
            RequestErrorCode::Forbidden,
            field,
            format!("this token may not {what}"),
        )
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{field}: {}: {}", self.code, self.message),
            None => write!(f, "{}: {}", self.code, self.message),
        }
    }
}

impl core::error::Error for RequestError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_field_code_and_message() {
        let e = RequestError::invalid("method", "must be one of accept-all");
        assert_eq!(
            e.to_string(),
            "method: invalid_field: must be one of accept-all"
        );
        let e = RequestError::forbidden("subject_name", "record a subject's name");
        assert_eq!(e.code, RequestErrorCode::Forbidden);
        assert_eq!(e.message, "this token may not record a subject's name");
    }
}
