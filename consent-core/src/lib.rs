//! # consent-core
//!
//! The consent model of the invisionu.education consent product: purposes, privacy policies versioned by
//! date and hashed by content, consent events folded into state, and decisions ("may I do X for subject S
//! now?").
//!
//! The crate is pure: it never reads a clock, draws random numbers or does I/O, so it compiles for
//! `wasm32-unknown-unknown` and gives the same answer everywhere. The TOML loader sits behind the
//! `toml` feature (on by default).
//!
//! It also defines the consent request (`POST /v1/consents`) once for the banner and the server:
//! [`ConsentRequest`], written without a JSON library ([`ConsentRequest::to_json`], or member by member
//! into a [`RequestWriter`]: the banner's JS objects), read from JSON behind the `json` feature
//! (`ConsentRequest::from_json`, `RequestContext::check_json`), checked against a policy
//! ([`ConsentRequest::check`]); and the choice logic both use ([`PurposeScope`]).
//!
//! The consent log's building blocks are in [`tlog`] (feature `tlog`, on by default): RFC 6962 Merkle
//! trees and proofs over stored tiles, C2SP signed notes, checkpoints, cosignatures and tlog-proofs.
//!
//! Rights records ([`RightsRecord`], feature `receipts`) are the log's other entries: a restriction,
//! unblocking or erasure, signed like receipts, an erasure naming the receipts it redacted.
//!
//! Receipts (feature `receipts`) are JWS over a versioned payload; version 2
//! ([`ReceiptPayload::new_v2`]) seals every field that names a person under the subject's [`DataKey`], so
//! that destroying the key erases the names while the receipt still verifies
//! ([`VerifiedReceipt::open_personal`], [`VerifiedReceipt::erased_personal`]). Legal due dates of rights
//! requests are counted in working days with a [`WorkingDays`] calendar loaded from TOML (feature `toml`).
//!
//! ```
//! use consent_core::{Actor, Choice, ConsentRecord, ConsentState, Decision, Denied, Event, EventKind,
//!     Method, Policy, Timestamp};
//!
//! let policy = Policy::from_toml(include_str!("../../examples/invisionu/policy.toml"))?;
//! let t0 = Timestamp::from_unix(1_750_000_000);
//! let given = |purpose: &str| Event {
//!     at: t0,
//!     kind: EventKind::Consent(ConsentRecord {
//!         purpose: purpose.parse().unwrap(),
//!         choice: Choice::Given,
//!         policy_version: policy.version(),
//!         method: Method::Custom,
//!         expires_at: None,
//!         by: Actor::Subject,
//!     }),
//! };
//! let state = ConsentState::fold(&[given("marketing")]);
//! let later = t0.add_seconds(86_400);
//! assert!(state.decision("marketing".parse()?, later, &policy).is_allowed());
//! assert_eq!(
//!     state.decision("public-dissemination".parse()?, later, &policy),
//!     Decision::Denied(Denied::NeverAsked),
//! );
//! // Purposes that do not rest on consent are allowed without it.
//! assert!(state.decision("legal-compliance".parse()?, later, &policy).is_allowed());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![no_std]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

extern crate alloc;
#[cfg(any(feature = "std", test))]
extern crate std;

/// What `std`'s prelude would bring: the crate is `no_std` (plus `alloc`).
mod prelude {
    pub(crate) use alloc::borrow::ToOwned;
    pub(crate) use alloc::boxed::Box;
    pub(crate) use alloc::format;
    pub(crate) use alloc::string::{String, ToString};
    #[allow(unused_imports)]
    pub(crate) use alloc::vec;
    pub(crate) use alloc::vec::Vec;
}

mod b64;
mod banner;
mod banner_view;
#[cfg(feature = "toml")]
mod calendar;
mod canonical;
mod collection;
mod decide;
mod error;
mod event;
mod id;
#[cfg(feature = "receipts")]
mod jws;
#[cfg(feature = "receipts")]
mod kantara;
mod lang;
#[cfg(feature = "toml")]
mod load;
mod opaque;
#[cfg(feature = "receipts")]
mod personal;
mod policy;
mod purpose;
mod purpose_set;
#[cfg(feature = "receipts")]
mod receipt;
mod request;
#[cfg(feature = "receipts")]
mod rights;
#[cfg(feature = "receipts")]
mod seal;
#[cfg(feature = "crypto")]
mod secret;
#[cfg(feature = "receipts")]
mod serde_impls;
mod state;
mod text;
mod time;
#[cfg(feature = "tlog")]
pub mod tlog;
mod token;
#[cfg(feature = "toml")]
mod toml_read;
#[cfg(feature = "receipts")]
mod webhook;

pub use banner::{BANNER_TEXTS, BannerTexts};
#[cfg(feature = "toml")]
pub use calendar::{
    BLOCKING_WORKING_DAYS, CalendarError, Day, MAX_CALENDAR_BYTES, WITHDRAWAL_WORKING_DAYS,
    Weekday, WorkingDays, YearStatus,
};
pub use collection::CollectionKind;
pub use decide::{Decided, PurposeScope};
pub use error::{ParseError, PolicyError, Problem, ProblemKind};
pub use event::{Actor, Choice, ConsentRecord, Event, EventKind, Method, Relation};
pub use id::{Id, MAX_ID_LEN, MAX_PURPOSE_ID_LEN, PurposeId};
#[cfg(feature = "receipts")]
pub use jws::{Alg, Header, Jwk, Jwks, JwsError, KeySet, MAX_JWS_LEN};
pub use lang::Lang;
#[cfg(feature = "toml")]
pub use load::MAX_POLICY_BYTES;
pub use opaque::{KeyId, ReceiptId, SubjectId};
#[cfg(feature = "receipts")]
pub use personal::{Personal, PersonalFields, SealedPersonal};
pub use policy::{
    Audience, Contact, Controller, Cookie, CookieCategory, DataCategory, Lifetime, Policy,
    PolicyHash, Recipient, Right, cookie_pattern_matches,
};
pub use purpose::{
    CookieCategoryId, Country, LegalBasis, Purpose, PurposeKind, PurposeTexts, RecipientKind,
};
pub use purpose_set::{PurposeCodes, PurposeSet};
#[cfg(feature = "receipts")]
pub use receipt::{
    CollectionPoint, LawItems, PolicyRef, RECEIPT_TYP, RECEIPT_VERSION, RECEIPT_VERSION_SEALED,
    ReceiptError, ReceiptPayload, ReceiptRequest, UnverifiedReceipt, VerifiedReceipt,
};
#[cfg(feature = "json")]
pub use request::read_json_object;
pub use request::{
    BuildHash, Caller, CheckedRequest, CollectionPointRequest, ConsentRequest, DecidedBy,
    Decisions, ExternalId, PageUrl, PersonName, RequestContext, RequestError, RequestErrorCode,
    RequestWriter, ScopeError, ServiceScope, SubjectSelector,
};
#[cfg(feature = "receipts")]
pub use rights::{RIGHTS_TYP, RIGHTS_VERSION, Redaction, RightsError, RightsKind, RightsRecord};
#[cfg(feature = "receipts")]
pub use seal::{
    DATA_KEY_LEN, DataKey, PersonalField, SEAL_ENC, SEAL_NONCE_LEN, Seal, SealNonces, Sealed,
    seal_associated_data,
};
#[cfg(feature = "crypto")]
pub use secret::HmacKey;
pub use state::{Allowed, ConsentState, ConsentStatus, Decision, Denied};
pub use text::Texts;
pub use time::{Date, PolicyVersion, Timestamp};
#[cfg(feature = "crypto")]
pub use token::TokenKeys;
pub use token::{
    ConsentToken, MAX_TOKEN_LEN, TOKEN_VERSION, TokenClaims, TokenError, TokenSubject,
    UnverifiedToken,
};
#[cfg(feature = "receipts")]
pub use webhook::{Notification, NotificationData, NotificationError, WebhookEvent};

#[cfg(feature = "toml")]
impl Policy {
    /// Loads and checks a policy written in TOML (format in `spec/POLICY.md`).
    ///
    /// Every problem is reported at once, in file order, with line, column and field path. Never panics.
    ///
    /// ```
    /// use consent_core::{Policy, ProblemKind};
    /// let err = Policy::from_toml("format = 1\nid = \"Bad Id\"\n").unwrap_err();
    /// let bad_id = err.problems().iter().find(|p| p.path == "id").unwrap();
    /// assert_eq!((bad_id.line, bad_id.column), (2, 6));
    /// assert!(err.problems().iter().any(|p| p.path == "purposes" && p.kind == ProblemKind::Missing));
    /// println!("{err}"); // every problem, one per line: `2:6: id: invalid value: invalid id: ...`
    /// ```
    pub fn from_toml(src: &str) -> Result<Policy, PolicyError> {
        load::load(src)
    }
}
