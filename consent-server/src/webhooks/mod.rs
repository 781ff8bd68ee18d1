//! Webhooks (issue 20.4): the systems that subscribe to consent events (`[[webhooks]]` in the
//! configuration) are told of each one, through an outbox the store writes in the same transaction as
//! the receipt or rights event.
//!
//! - `config`: the subscriptions, checked at start ([`Subscriptions`]);
//! - `route`: which deliveries a receipt or a rights event makes ([`Subscriptions::for_receipt`],
//!   [`Subscriptions::for_rights`]);
//! - `send`: one attempt: the Standard Webhooks headers and signature, the POST, its outcome;
//! - `worker`: the delivery loop (claim, send, record; exponential backoff with jitter).
//!
//! The payload is core's [`consent_core::Notification`] (`spec/SPEC.md` §8). `DESIGN.md`, "Webhooks",
//! says why an outbox, how the order per subject holds, and how several instances send each once.

mod config;
mod route;
mod send;
mod worker;

pub use config::{Subscription, Subscriptions, WebhookConfig, WebhookSecret};
pub use send::{SendError, signed_headers};
pub use worker::{Worker, backoff_ms, prometheus};
