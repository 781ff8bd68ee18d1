//! Webhooks with the real binary (issue 20.7): a receiver that is down for a while then comes back gets
//! every event once, in order per subject; `kill -9` of the server between the commit and the delivery
//! loses nothing; every delivery's signature verifies with the `standardwebhooks` crate; no payload
//! names anyone; the rights cases close once the receiver has acknowledged; dead-letter and `webhooks
//! retry`; on PostgreSQL, two instances send each delivery once.
//!
//! On SQLite, or on PostgreSQL with `DATABASE_URL` set (a schema of the test's own).

mod support;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use consent_core::{Notification, WebhookEvent};
use serde_json::json;
use support::{
    form_consent, free_port, http, portal_and_operator_tokens, run, start_with, temp, terminate,
};

const OPERATOR: &str = "webhooks-operator-token";
const PORTAL: &str = "webhooks-portal-token";
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// A Kazakh name, in every consent: it must appear in no payload.
const NAME: &str = "Әйгерім Нұрланқызы";

/// One delivery the receiver accepted.
#[derive(Clone, Debug)]
struct Got {
    msg_id: String,
    body: String,
    notification: Notification,
    at: Instant,
}

/// A webhook receiver on a real socket: verifies each delivery with the `standardwebhooks` crate
/// (401 if it does not verify), keeps it, answers 204. It can be stopped and started again on its port.
struct Receiver {
    port: u16,
    got: Arc<Mutex<Vec<Got>>>,
    rejected: Arc<Mutex<u32>>,
    /// How long each answer takes.
    delay: Duration,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Receiver {
    fn new() -> Receiver {
        Receiver {
            port: free_port(),
            got: Arc::default(),
            rejected: Arc::default(),
            delay: Duration::ZERO,
            runtime: None,
        }
    }

    fn start(&mut self) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (got, rejected) = (Arc::clone(&self.got), Arc::clone(&self.rejected));
        let delay = self.delay;
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(("127.0.0.1", self.port)))
            .unwrap();
        runtime.spawn(async move {
            let app = axum::Router::new().route(
                "/hook",
                axum::routing::post(
                    move |headers: axum::http::HeaderMap, body: axum::body::Bytes| async move {
                        tokio::time::sleep(delay).await;
                        let verifier = standardwebhooks::Webhook::new(SECRET).unwrap();
                        if verifier.verify(&body, &headers).is_err() {
                            *rejected.lock().unwrap() += 1;
                            return axum::http::StatusCode::UNAUTHORIZED;
                        }
                        let msg_id = headers["webhook-id"].to_str().unwrap().to_owned();
                        got.lock().unwrap().push(Got {
                            msg_id,
                            body: String::from_utf8(body.to_vec()).unwrap(),
                            notification: Notification::from_json(&body).unwrap(),
                            at: Instant::now(),
                        });
                        axum::http::StatusCode::NO_CONTENT
                    },
                ),
            );
            axum::serve(listener, app).await.unwrap();
        });
        self.runtime = Some(runtime);
    }

    fn stop(&mut self) {
        if let Some(r) = self.runtime.take() {
            r.shutdown_timeout(Duration::from_secs(1));
        }
    }

    fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until `n` deliveries arrived (or `within` passed); what arrived.
    fn wait_for(&self, n: usize, within: Duration) -> Vec<Got> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline && self.got().len() < n {
            std::thread::sleep(Duration::from_millis(50));
        }
        self.got()
    }
}

fn extra(receiver: u16, webhook: &str) -> String {
    format!(
        "{}\n[[webhooks]]\nname = \"mailing\"\nurl = \"http://127.0.0.1:{receiver}/hook\"\nsecret = \"{SECRET}\"\n\
         events = [\"consent.given\", \"consent.withdrawn\", \"consent.refused\", \"consent.expired\", \
         \"consent.unsubscribed\", \"subject.restricted\", \"subject.unblocked\", \"subject.erased\"]\n\
         retry_min_ms = 100\nretry_max_secs = 1\ntimeout_secs = 2\n{webhook}\n",
        portal_and_operator_tokens(PORTAL, OPERATOR)
    )
}

/// A form consent for the external id `id` (named [`NAME`]); the subject's pseudonym.
fn form(port: u16, id: &str, decisions: serde_json::Value) -> String {
    let text = form_consent(port, PORTAL, id, NAME, NAME, decisions);
    serde_json::from_str::<serde_json::Value>(&text).unwrap()["subject"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn operator(port: u16, method: &str, path: &str, body: &str) -> String {
    let auth = format!("Bearer {OPERATOR}");
    let mut headers = vec![("authorization", auth.as_str())];
    if !body.is_empty() {
        headers.push(("content-type", "application/json"));
    }
    let (status, text) = http(port, method, path, &headers, body).unwrap();
    assert!(status < 300, "{method} {path}: {status} {text}");
    text
}

/// Five events for each of `subjects` subjects: given, withdrawn (marketing), restricted, unblocked,
/// erased. Their pseudonyms.
fn events(port: u16, prefix: &str, subjects: usize) -> Vec<String> {
    let mut out = Vec::new();
    for i in 0..subjects {
        let id = format!("{prefix}-{i}@example.kz");
        let s = form(
            port,
            &id,
            json!({"application-review": "given", "marketing": "given"}),
        );
        operator(
            port,
            "POST",
            &format!("/v1/subjects/{s}/withdraw"),
            r#"{"purposes": ["marketing"]}"#,
        );
        for what in ["restrict", "unblock", "erase"] {
            operator(port, "POST", &format!("/v1/subjects/{s}/{what}"), "");
        }
        out.push(s);
    }
    out
}

const EXPECTED: [WebhookEvent; 5] = [
    WebhookEvent::Given,
    WebhookEvent::Withdrawn,
    WebhookEvent::Restricted,
    WebhookEvent::Unblocked,
    WebhookEvent::Erased,
];

/// Every delivery once, each subject's in the order of its events, none naming anyone.
fn check_once_in_order(got: &[Got], subjects: &[String]) {
    let mut seen = HashMap::new();
    for g in got {
        *seen.entry(g.msg_id.clone()).or_insert(0) += 1;
        assert!(
            !g.body.contains(NAME),
            "a payload names the person: {}",
            g.body
        );
        assert!(g.notification.data.subject.starts_with("sub:"));
    }
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    let mut by_subject: BTreeMap<&str, Vec<WebhookEvent>> = BTreeMap::new();
    for g in got {
        by_subject
            .entry(g.notification.data.subject.as_str())
            .or_default()
            .push(g.notification.event);
    }
    for s in subjects {
        assert_eq!(
            by_subject.get(s.as_str()).map(Vec::as_slice),
            Some(&EXPECTED[..]),
            "events of {s} out of order or missing"
        );
    }
    // The marketing withdrawal names the purpose.
    assert!(got.iter().any(|g| {
        g.notification.event == WebhookEvent::Withdrawn
            && g.notification
                .data
                .purposes
                .iter()
                .any(|p| p.as_str() == "marketing")
    }));
}

fn metric(port: u16, line: &str) -> u64 {
    let (_, text) = http(port, "GET", "/metrics", &[], "").unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(line))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no metric {line} in:\n{text}"))
}

/// The deliveries in `state` once they reach `want` (the acknowledgement is recorded just after the
/// receiver answers), or after 5 s.
fn settled(port: u16, state: &str, want: u64) -> u64 {
    let line = format!("consent_webhook_deliveries{{webhook=\"mailing\",state=\"{state}\"}}");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let n = metric(port, &line);
        if n == want || Instant::now() > deadline {
            return n;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn pending(port: u16) -> u64 {
    metric(
        port,
        "consent_webhook_deliveries{webhook=\"mailing\",state=\"pending\"}",
    )
}

#[test]
fn a_receiver_down_for_a_while_then_back_gets_every_event_once_in_order() {
    let dir = temp("webhooks-down");
    let mut receiver = Receiver::new();
    let port = free_port();
    let mut server = start_with(&dir, port, &extra(receiver.port, ""), "warn", &[]);
    let subjects = events(port, "down", 4);
    // Down for three seconds: every attempt fails, and is tried again with backoff.
    std::thread::sleep(Duration::from_secs(3));
    // Expiries of the purposes still given are pending too (a year away), so at least the 20 events.
    assert!(pending(port) >= 20, "{}", pending(port));
    // Of those, due: the events tried and not acknowledged (the expiries are not due for a year).
    let due = "consent_webhook_deliveries_due{webhook=\"mailing\"}";
    assert!(
        (1..=20).contains(&metric(port, due)),
        "{}",
        metric(port, due)
    );
    let failed = metric(
        port,
        "consent_webhook_failed_attempts_total{webhook=\"mailing\"}",
    );
    assert!(failed >= 4, "failed attempts: {failed}");
    // The cases wait for the acknowledgements.
    let cases = operator(port, "GET", "/v1/cases", "");
    assert!(cases.contains("erasure"), "{cases}");
    receiver.start();
    let got = receiver.wait_for(20, Duration::from_secs(30));
    assert_eq!(got.len(), 20, "{got:?}");
    check_once_in_order(&got, &subjects);
    assert_eq!(
        *receiver.rejected.lock().unwrap(),
        0,
        "a signature did not verify"
    );
    assert_eq!(settled(port, "delivered", 20), 20);
    // Acknowledged: nothing due.
    assert_eq!(metric(port, due), 0);
    // Every case (withdrawal, restriction, unblocking, erasure) closed by the acknowledgements.
    std::thread::sleep(Duration::from_millis(300));
    let open: serde_json::Value =
        serde_json::from_str(&operator(port, "GET", "/v1/cases", "")).unwrap();
    assert_eq!(open["cases"].as_array().map(Vec::len), Some(0), "{open}");
    // Latency with the receiver up: from the consent's answer to the delivery.
    let before = receiver.got().len();
    let started = Instant::now();
    form(port, "latency@example.kz", json!({"marketing": "given"}));
    let got = receiver.wait_for(before + 1, Duration::from_secs(10));
    let latency = got.last().unwrap().at.duration_since(started);
    eprintln!("FIGURE webhook delivery latency (receiver up, debug build): {latency:?}");
    assert!(!got.last().unwrap().body.contains(NAME));
    terminate(&mut server);
    receiver.stop();
}

#[test]
fn kill_9_between_commit_and_delivery_loses_nothing() {
    let dir = temp("webhooks-kill9");
    let mut receiver = Receiver::new();
    let port = free_port();
    let extra = extra(receiver.port, "");
    let mut server = start_with(&dir, port, &extra, "warn", &[]);
    let subjects = events(port, "kill", 3);
    // Committed, not delivered (the receiver is down): the server dies without a chance to do anything.
    server.kill().unwrap();
    server.wait().unwrap();
    receiver.start();
    let port = free_port();
    let mut server = start_with(&dir, port, &extra, "warn", &[]);
    // A delivery the killed server had claimed (its attempt in flight) waits for its lease to end: the
    // longest timeout (2 s here) plus 10 s.
    let got = receiver.wait_for(15, Duration::from_secs(45));
    assert_eq!(got.len(), 15, "{got:?}");
    check_once_in_order(&got, &subjects);
    // Nothing left: the expiries still to come were cancelled by the withdrawal and the erasure.
    assert_eq!(settled(port, "pending", 0), 0);
    let config = dir.join("consent-server.toml");
    let (ok, out, _) = run(
        &dir,
        &[
            "--config",
            config.to_str().unwrap(),
            "webhooks",
            "list",
            "--all",
        ],
    );
    assert!(ok && out.matches("\tcancelled\t").count() == 6, "{out}");
    terminate(&mut server);
    receiver.stop();
}

#[test]
fn dead_letter_then_retry_from_the_cli() {
    let dir = temp("webhooks-dead");
    let mut receiver = Receiver::new();
    let port = free_port();
    let extra = extra(receiver.port, "dead_after_secs = 2\n");
    let mut server = start_with(&dir, port, &extra, "warn", &[]);
    let s = form(
        port,
        "dead@example.kz",
        json!({"public-dissemination": "refused"}),
    );
    std::thread::sleep(Duration::from_millis(3500));
    let dead = "consent_webhook_deliveries{webhook=\"mailing\",state=\"dead\"}";
    assert_eq!(metric(port, dead), 1);
    let config = dir.join("consent-server.toml");
    let config = config.to_str().unwrap();
    let (ok, out, err) = run(&dir, &["--config", config, "webhooks", "list", "--dead"]);
    assert!(
        ok && out.contains("consent.refused") && out.contains(&s),
        "{out}{err}"
    );
    let id = out
        .lines()
        .nth(1)
        .unwrap()
        .split('\t')
        .next()
        .unwrap()
        .to_owned();
    receiver.start();
    let (ok, out, err) = run(&dir, &["--config", config, "webhooks", "retry", &id]);
    assert!(ok && out.contains("1 deliver"), "{out}{err}");
    let got = receiver.wait_for(1, Duration::from_secs(10));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].notification.event, WebhookEvent::Refused);
    assert_eq!(settled(port, "dead", 0), 0);
    let (ok, _, err) = run(&dir, &["--config", config, "webhooks", "retry", "999"]);
    assert!(!ok && err.contains("no dead-letter delivery"), "{err}");
    terminate(&mut server);
    receiver.stop();
}

#[test]
fn a_bad_subscription_stops_the_start_with_a_clear_error() {
    let dir = temp("webhooks-bad");
    let config = support::config_with(
        &dir,
        free_port(),
        "[[webhooks]]\nname = \"mailing\"\nurl = \"http://127.0.0.1:9/hook\"\nsecret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\nevents = [\"consent.given\"]\npurposes = [\"newsletter\"]\n",
    );
    let (ok, _, err) = run(&dir, &["--config", config.to_str().unwrap(), "serve"]);
    assert!(!ok);
    assert!(
        err.contains("webhook `mailing`: purpose `newsletter` is not in the current policy"),
        "{err}"
    );
}

#[test]
fn two_postgres_instances_send_each_delivery_once() {
    if support::pg::url_for_postgres_only_test("two_postgres_instances_send_each_delivery_once")
        .is_none()
    {
        return;
    }
    let dir = temp("webhooks-two");
    // A slow receiver (150 ms an answer): deliveries stay leased while the other instance looks.
    let mut receiver = Receiver::new();
    receiver.delay = Duration::from_millis(150);
    receiver.start();
    let extra = extra(receiver.port, "");
    let (a, b) = (free_port(), free_port());
    let mut first = start_with(&dir, a, &extra, "warn", &[]);
    let second_dir: &Path = &dir;
    let mut second = start_with(second_dir, b, &extra, "warn", &[]);
    let mut subjects = events(a, "two-a", 4);
    subjects.extend(events(b, "two-b", 4));
    let got = receiver.wait_for(40, Duration::from_secs(60));
    // A little longer: a second copy would come now.
    std::thread::sleep(Duration::from_secs(1));
    let got = if got.len() == 40 { receiver.got() } else { got };
    assert_eq!(got.len(), 40, "{got:?}");
    check_once_in_order(&got, &subjects);
    terminate(&mut first);
    terminate(&mut second);
    receiver.stop();
}
