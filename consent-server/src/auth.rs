//! Who is calling: a bearer token's role and, for a service, its scope ([`Caller`]), and what each role
//! may do ([`Staff`] with a permission below). Tokens are configured as SHA-256 hashes and compared in
//! constant time.
//!
//! Both are extractors, written before the handler's body or query, so a request without the right token is
//! refused before its body is read.

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use consent_core::ServiceScope;
use subtle::ConstantTimeEq as _;

use crate::config::{Config, Role};
use crate::error::ApiError;
use crate::state::AppState;

/// The request's bearer token, if it has one, as its place in `config.tokens`: 401 for a malformed
/// or unknown token.
fn token(config: &Config, headers: &HeaderMap) -> Result<Option<usize>, ApiError> {
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
    for (i, t) in config.tokens.iter().enumerate() {
        if bool::from(t.sha256.as_bytes().ct_eq(hash.as_bytes())) {
            found = Some(i);
        }
    }
    found.map(Some).ok_or_else(ApiError::unauthorized)
}

/// Requires a token with one of `roles`: 401 without a valid token, 403 (`this token may not {what}`) for
/// another role. The token's place in `config.tokens`.
fn require(
    config: &Config,
    headers: &HeaderMap,
    roles: &[Role],
    what: &str,
) -> Result<usize, ApiError> {
    let i = token(config, headers)?.ok_or_else(ApiError::unauthorized)?;
    match config.tokens.get(i) {
        Some(t) if roles.contains(&t.role) => Ok(i),
        _ => Err(ApiError::forbidden(what)),
    }
}

/// Requires a token with a role that has permission `P`, from the request's headers (for a handler
/// whose path alone does not say whether it needs one).
pub(crate) fn require_permission<P: Permission>(
    config: &Config,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    require(config, headers, P::ROLES, P::WHAT).map(|_| ())
}

/// The scope of the `i`th token
/// ([`StateParts::service_scopes`](crate::state::StateParts::service_scopes)): nothing if it has none.
fn scope_of(state: &AppState, i: usize) -> ServiceScope {
    state
        .service_scopes
        .get(i)
        .copied()
        .unwrap_or(ServiceScope::NOTHING)
}

/// Anyone: the role of the bearer token if there is one (401 if it is not valid), and what a service's
/// token may record.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Caller {
    /// The token's role; `None` without a token.
    pub(crate) role: Option<Role>,
    /// The configured token it came with (its index in the configuration; its name is who handled a
    /// request and scopes idempotency keys); `None` without one.
    pub(crate) token: Option<usize>,
    /// A service token's scope; nothing for the other roles.
    scope: ServiceScope,
}

impl Caller {
    /// Who it is, for scoping idempotency keys: the bearer token's configured name, or `anonymous`.
    pub(crate) fn name<'a>(&self, config: &'a Config) -> &'a str {
        self.token
            .and_then(|i| config.tokens.get(i))
            .map_or("anonymous", |t| t.name.as_str())
    }

    /// Who sends a consent request, as the contract sees it ([`consent_core::Caller`], which decides
    /// what each may record): a `service` token is a service with its scope; anyone else (no token,
    /// or an auditor's or operator's) records what an anonymous visitor may.
    pub(crate) fn requester(&self) -> consent_core::Caller<'_> {
        match self.role {
            Some(Role::Service) => consent_core::Caller::Service(&self.scope),
            Some(Role::Auditor | Role::Operator) | None => consent_core::Caller::Anonymous,
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let i = token(&state.config, &parts.headers)?;
        Ok(Caller {
            role: i.and_then(|i| state.config.tokens.get(i)).map(|t| t.role),
            token: i,
            scope: i.map_or(ServiceScope::NOTHING, |i| scope_of(state, i)),
        })
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
    /// A service token's scope (`None` for staff roles, which have none).
    pub(crate) scope: Option<ServiceScope>,
    permission: PhantomData<fn() -> P>,
}

impl<P: Permission> FromRequestParts<AppState> for Staff<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let i = require(&state.config, &parts.headers, P::ROLES, P::WHAT)?;
        let token = state
            .config
            .tokens
            .get(i)
            .ok_or_else(ApiError::unauthorized)?;
        Ok(Staff {
            name: token.name.clone(),
            scope: (token.role == Role::Service).then(|| scope_of(state, i)),
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
    /// Withdrawals, restrictions, unblocking, erasures, access requests; closing cases.
    RecordRights: [Operator] => "record rights requests";
    /// `GET /v1/cases`.
    ReadCases: [Auditor, Operator] => "read rights requests";
    /// `POST /v1/unsubscribe-links`.
    MakeUnsubscribeLinks: [Service, Operator] => "make unsubscribe links";
    /// `GET /v1/export`.
    ExportReceipts: [Auditor] => "export receipts";
    ReadLogEntries: [Auditor] => "read the log's entries";
    /// `GET /v1/log/entries/{index}/proof`: an entry's inclusion proof (rights events' proofs).
    ReadLogProofs: [Auditor, Operator] => "read the log's proofs";
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::StaffToken;

    fn config() -> Config {
        let token =
            |name: &str, role| StaffToken::new(name, role, crate::privacy::token_hash(name));
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
        let role = |h: &HeaderMap| token(&c, h).map(|i| i.map(|i| c.tokens[i].role));
        assert_eq!(role(&HeaderMap::new()).unwrap(), None);
        assert_eq!(role(&bearer("Bearer a")).unwrap(), Some(Role::Auditor));
        assert_eq!(role(&bearer("BEARER o")).unwrap(), Some(Role::Operator));
        for bad in ["Bearer x", "Basic a", "Bearer", "a"] {
            assert_eq!(role(&bearer(bad)).unwrap_err().status, 401, "{bad}");
        }
    }

    #[test]
    fn only_service_tokens_record_as_services_with_their_scope() {
        use consent_core::Caller as Requester;
        let scope = ServiceScope::new(consent_core::PurposeSet::of(8), &[]).unwrap();
        let caller = |role| Caller {
            role,
            token: None,
            scope,
        };
        assert_eq!(caller(None).requester(), Requester::Anonymous);
        assert_eq!(
            caller(Some(Role::Service)).requester(),
            Requester::Service(&scope)
        );
        for staff in [Role::Auditor, Role::Operator] {
            assert_eq!(caller(Some(staff)).requester(), Requester::Anonymous);
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
        let i = require(&c, &bearer("Bearer o"), RecordRights::ROLES, what).unwrap();
        assert_eq!(c.tokens[i].name, "o");
    }
}
