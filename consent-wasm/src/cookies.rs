//! The page's cookies: the `consent` cookie that holds the server's token (read on every page, written
//! on every recorded choice), and the declared cookies of refused purposes, deleted on every choice.
//! What to write is decided in [`crate::logic`]; this is where `document.cookie` is touched.

use alloc::string::String;

#[cfg(feature = "full")]
use consent_core::{PurposeSet, TokenClaims};

use crate::dom::html_document;
#[cfg(feature = "full")]
use crate::dom::{string, window};
use crate::logic::{self, COOKIE};

/// The page's cookies (`document.cookie`).
// Inlined: smaller wasm than a call (opt-level "z" ignores `#[inline]`; see README, Size).
#[inline(always)]
pub(crate) fn jar() -> String {
    html_document().cookie().unwrap_or_default()
}

/// The `consent` cookie's value (the token, unread), if there is one.
pub(crate) fn token(jar: &str) -> Option<&str> {
    logic::cookie_value(jar, COOKIE)
}

#[cfg(feature = "full")]
/// Whether the page is on HTTPS (its cookies are then `secure`).
fn https() -> bool {
    string(&window().location(), "protocol").as_deref() == Some("https:")
}

#[cfg(feature = "full")]
/// Stores the token of a `201` answer in the `consent` cookie; its claims, if it could be read (an
/// unreadable token is not stored).
pub(crate) fn store_token(token: &str) -> Option<TokenClaims> {
    let claims = TokenClaims::decode_unverified(token).ok()?;
    let _ = html_document().set_cookie(&logic::cookie_string(token, &claims, https()));
    Some(claims)
}

#[cfg(feature = "full")]
/// Deletes the cookies the policy declares for the purposes in `off`, on every path the page can see
/// ([`logic::cookie_paths`]), on the page's host and on the host's domain and each parent domain
/// ([`logic::cookie_domains`]), `secure` on HTTPS. Scripts that already ran keep running until the
/// page is reloaded.
pub(crate) fn delete_declared(declared: &[(u8, String)], off: PurposeSet) {
    let doc = html_document();
    let jar = doc.cookie().unwrap_or_default();
    let location = window().location();
    let host = string(&location, "hostname").unwrap_or_default();
    let pathname = string(&location, "pathname").unwrap_or_default();
    let secure = string(&location, "protocol").as_deref() == Some("https:");
    for name in logic::cookies_to_delete(declared, off, &jar) {
        for path in logic::cookie_paths(&pathname) {
            for domain in core::iter::once(None).chain(logic::cookie_domains(&host).map(Some)) {
                let _ = doc.set_cookie(&logic::expired_cookie(name, domain, path, secure));
            }
        }
    }
}
