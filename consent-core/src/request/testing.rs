//! Helpers for the request module's unit tests.

#[allow(unused_imports)]
use crate::prelude::*;

use super::{Caller, ConsentRequest, RequestContext};
use crate::Policy;

/// The invisionu policy of `examples/`.
pub(super) fn policy() -> Policy {
    Policy::from_toml(include_str!("../../../examples/invisionu/policy.toml")).unwrap()
}

/// `request` with `change` applied.
pub(super) fn with(
    request: &ConsentRequest,
    change: impl FnOnce(&mut ConsentRequest),
) -> ConsentRequest {
    let mut r = request.clone();
    change(&mut r);
    r
}

/// The answer to `request` from `caller` as `(code, field)`, `("ok", "")` when it passes.
pub(super) fn answer(
    policy: &Policy,
    request: &ConsentRequest,
    caller: Caller<'_>,
) -> (String, String) {
    match request.check(&RequestContext::new(policy, caller)) {
        Ok(_) => ("ok".into(), String::new()),
        Err(e) => (e.code.as_str().into(), e.field.unwrap_or_default()),
    }
}
