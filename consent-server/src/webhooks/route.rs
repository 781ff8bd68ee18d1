//! Which deliveries an event makes: for each subscription that asked for the event, about the purposes
//! it asked for, a [`NewDelivery`] carrying the [`Notification`] it will be sent. The store writes them
//! with the receipt or rights event, in its transaction.

use std::time::Duration;

use consent_core::{Choice, Method, Notification, PurposeId, Timestamp, WebhookEvent};

use super::{Subscription, Subscriptions};
use crate::keys::KeyError;
use crate::privacy::SubjectRef;
use crate::store::{NewDelivery, NewReceipt, Rights};

impl Subscriptions {
    /// The deliveries of a receipt: `consent.withdrawn` (or `consent.unsubscribed` for a one-click
    /// unsubscribe), `consent.refused` and `consent.given` for the purposes it decided so, and a
    /// `consent.expired` per purpose given, due when the receipt's consents lapse (cancelled by the
    /// store if the purpose is decided again, or the subject erased, first). Withdrawals wait for the
    /// receipt's case.
    pub fn for_receipt(&self, r: &NewReceipt) -> Result<Vec<NewDelivery>, KeyError> {
        let withdrawn = if r.method() == Method::Unsubscribe {
            WebhookEvent::Unsubscribed
        } else {
            WebhookEvent::Withdrawn
        };
        let of = |choice: Choice| -> Vec<PurposeId> {
            r.decisions()
                .iter()
                .filter(|(_, c)| **c == choice)
                .map(|(p, _)| *p)
                .collect()
        };
        let mut out = Vec::new();
        for s in &self.list {
            for (event, purposes) in [
                (withdrawn, of(Choice::Withdrawn)),
                (WebhookEvent::Refused, of(Choice::Refused)),
                (WebhookEvent::Given, of(Choice::Given)),
            ] {
                let purposes = wanted(s, event, purposes);
                if purposes.is_empty() {
                    continue;
                }
                let n = Notification::new(event, r.issued_at(), r.subject().to_string(), purposes)
                    .with_receipt(r.id(), r.policy_version());
                out.push(delivery(s, n, event == withdrawn)?);
            }
            for p in wanted(s, WebhookEvent::Expired, of(Choice::Given)) {
                let n = Notification::new(
                    WebhookEvent::Expired,
                    r.expires_at(),
                    r.subject().to_string(),
                    vec![p],
                )
                .with_receipt(r.id(), r.policy_version());
                out.push(delivery(s, n, false)?);
            }
        }
        Ok(out)
    }

    /// The deliveries of a restriction, unblocking or erasure of `subject` at `at`: every purpose of the
    /// policy (within the subscription's), each waiting for the event's case.
    pub fn for_rights(
        &self,
        subject: SubjectRef,
        what: Rights,
        at: Timestamp,
    ) -> Result<Vec<NewDelivery>, KeyError> {
        let event = match what {
            Rights::Restrict => WebhookEvent::Restricted,
            Rights::Unblock => WebhookEvent::Unblocked,
            Rights::Erase => WebhookEvent::Erased,
        };
        let mut out = Vec::new();
        for s in &self.list {
            if !s.events.contains(&event) {
                continue;
            }
            let purposes = match &s.purposes {
                Some(p) => p.clone(),
                None => self.all_purposes.clone(),
            };
            let n = Notification::new(event, at, subject.to_string(), purposes);
            out.push(delivery(s, n, true)?);
        }
        Ok(out)
    }
}

/// The purposes of `purposes` that `s` hears about for `event` (none if it did not ask for it).
fn wanted(s: &Subscription, event: WebhookEvent, purposes: Vec<PurposeId>) -> Vec<PurposeId> {
    if !s.events.contains(&event) {
        return Vec::new();
    }
    match &s.purposes {
        None => purposes,
        Some(only) => purposes.into_iter().filter(|p| only.contains(p)).collect(),
    }
}

fn delivery(s: &Subscription, n: Notification, for_case: bool) -> Result<NewDelivery, KeyError> {
    let id = crate::keys::random16()?;
    let msg_id = format!(
        "msg_{}",
        id.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    let dead_at_ms = n
        .timestamp
        .as_unix()
        .saturating_mul(1000)
        .saturating_add(millis(s.dead_after));
    Ok(NewDelivery {
        msg_id,
        webhook: s.name.clone(),
        event: n.event,
        occurs_at: n.timestamp,
        purposes: n.data.purposes.clone(),
        payload: n.to_json(),
        dead_at_ms,
        for_case,
    })
}

/// A duration in whole milliseconds (saturating).
pub(super) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
