//! Who is calling: a bearer token's role ([`Caller`]), and what each role may do ([`Staff`] with a
//! permission below). Tokens are configured as SHA-256 hashes and compared in constant time.
//!
//! Both are extractors, written before the handler's body or query, so a request without the right token is
//! refused before its body is read.

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use subtle::ConstantTimeEq as _;

use crate::config::{Config, Role, StaffToken};
use crate::error::ApiError;
use crate::state::AppState;

/// The role of the request's bearer token, if it has one: 401 for a malformed or unknown token.
fn role<'c>(
    config: &'c Config,
    headers: &HeaderMap,
) -> Result<Option<(Role, &'c StaffToken)>, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| {
            v.get(..7)
                .filter(|p| p.eq_ignore_ascii_case("bearer "))
                .and_then(|_| v.get(7..))
        })
        .ok_or_else(ApiError::unauthorized)?;
    let hash = crate::privacy::token_hash(token.trim());
    // Compare with every configured hash in constant time, without stopping early.
    let mut found = None;
    for t in &config.tokens {
        if bool::from(t.sha256.as_bytes().ct_eq(hash.as_bytes())) {
            found = Some((t.role, t));
        }
    }
    found.map(Some).ok_or_else(ApiError::unauthorized)
}

/// Requires a token with one of `roles`: 401 without a valid token, 403 (`this token may not {what}`) for
/// another role.
fn require<'c>(
    config: &'c Config,
    headers: &HeaderMap,
    roles: &[Role],
    what: &str,
) -> Result<&'c StaffToken, ApiError> {
    match role(config, headers)? {
        Some((role, t)) if roles.contains(&role) => Ok(t),
        Some(_) => Err(ApiError::forbidden(what)),
        None => Err(ApiError::unauthorized()),
    }
}

/// Anyone: the role of the bearer token if there is one (401 if it is not valid).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Caller(pub(crate) Option<Role>);

impl Caller {
    /// Who sends a consent request, as the contract sees it ([`consent_core::Caller`], which decides
    /// what each may record): a `service` token is a service; anyone else (no token, or an auditor's
    /// or operator's) records what an anonymous visitor may.
    pub(crate) fn requester(self) -> consent_core::Caller {
        match self.0 {
            Some(Role::Service) => consent_core::Caller::Service,
            Some(Role::Auditor | Role::Operator) | None => consent_core::Caller::Anonymous,
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(Caller(role(&state.config, &parts.headers)?.map(|(r, _)| r)))
    }
}

/// An action some roles may take: [`Staff<P>`] requires one of `ROLES`.
pub(crate) trait Permission {
    /// The roles allowed.
    const ROLES: &'static [Role];
    /// What a 403 says the token may not do.
    const WHAT: &'static str;
}

/// A caller with a token allowed to do `P` (401 without a valid token, 403 for another role).
#[derive(Debug)]
pub(crate) struct Staff<P> {
    /// Who holds the token (for the log).
    pub(crate) name: String,
    permission: PhantomData<fn() -> P>,
}

impl<P: Permission> FromRequestParts<AppState> for Staff<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = require(&state.config, &parts.headers, P::ROLES, P::WHAT)?;
        Ok(Staff {
            name: token.name.clone(),
            permission: PhantomData,
        })
    }
}

macro_rules! permissions {
    ($($(#[$doc:meta])* $name:ident: [$($role:ident),+] => $what:literal;)+) => {$(
        $(#[$doc])*
        #[derive(Debug)]
        pub(crate) enum $name {}
        impl Permission for $name {
            const ROLES: &'static [Role] = &[$(Role::$role),+];
            const WHAT: &'static str = $what;
        }
    )+};
}

permissions! {
    /// `POST /v1/subjects/lookup`.
    LookUpSubjects: [Auditor, Operator, Service] => "look up subjects";
    /// `GET /v1/subjects/{subject}/history`.
    ReadHistories: [Auditor, Operator] => "read subject histories";
    /// `GET /v1/subjects/{subject}/state`.
    ReadStates: [Auditor, Operator, Service] => "read subject state";
    /// `GET /v1/subjects/{subject}/export`.
    ExportSubjects: [Auditor, Operator] => "export subject data";
    /// Withdrawals, restrictions, unblocking and erasures.
    RecordRights: [Operator] => "record rights requests";
    /// `POST /v1/unsubscribe-links`.
    MakeUnsubscribeLinks: [Service, Operator] => "make unsubscribe links";
    /// `GET /v1/export`.
    ExportReceipts: [Auditor] => "export receipts";
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        let token = |name: &str, role| StaffToken {
            name: name.into(),
            role,
            sha256: crate::privacy::token_hash(name),
        };
        Config {
            tokens: vec![token("a", Role::Auditor), token("o", Role::Operator)],
            ..Config::default()
        }
    }

    fn bearer(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, v.parse().unwrap());
        h
    }

    #[test]
    fn tokens_give_their_role() {
        let c = config();
        assert!(role(&c, &HeaderMap::new()).unwrap().is_none());
        assert_eq!(
            role(&c, &bearer("Bearer a")).unwrap().unwrap().0,
            Role::Auditor
        );
        assert_eq!(
            role(&c, &bearer("BEARER o")).unwrap().unwrap().0,
            Role::Operator
        );
        for bad in ["Bearer x", "Basic a", "Bearer", "a"] {
            assert_eq!(role(&c, &bearer(bad)).unwrap_err().status, 401, "{bad}");
        }
    }

    #[test]
    fn only_service_tokens_record_as_services() {
        use consent_core::Caller as Requester;
        assert_eq!(Caller(None).requester(), Requester::Anonymous);
        assert_eq!(Caller(Some(Role::Service)).requester(), Requester::Service);
        for staff in [Role::Auditor, Role::Operator] {
            assert_eq!(Caller(Some(staff)).requester(), Requester::Anonymous);
        }
    }

    #[test]
    fn require_is_401_then_403() {
        let c = config();
        let what = RecordRights::WHAT;
        assert_eq!(
            require(&c, &HeaderMap::new(), RecordRights::ROLES, what)
                .unwrap_err()
                .status,
            401
        );
        let e = require(&c, &bearer("Bearer a"), RecordRights::ROLES, what).unwrap_err();
        assert_eq!(
            (e.status.as_u16(), e.message.as_str()),
            (403, "this token may not record rights requests")
        );
        assert_eq!(
            require(&c, &bearer("Bearer o"), RecordRights::ROLES, what)
                .unwrap()
                .name,
            "o"
        );
    }
}
