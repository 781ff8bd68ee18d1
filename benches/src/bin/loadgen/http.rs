//! The HTTP side: one reqwest client (one pool of keep-alive HTTP/1.1 connections) for the fixed-rate
//! phase and the control requests, a hyper client connection of its own for each task of the
//! max-throughput phase ([`Connection`]), the server instances they send to, and the consent request.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue, USER_AGENT};
use reqwest::{StatusCode, Url};

use crate::ids::{DEVICE_ID_LEN, Rng, device_id};

/// No request waits longer than this for its answer (the server's own timeout is 10 s).
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A browser's `User-Agent`, so that the server records a browser family (Chrome) as for a visitor.
const BROWSER: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                       Chrome/136.0 Safari/537.36 consent-loadgen";

/// One server instance the load goes to.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    addr: SocketAddr,
    consents: Url,
}

impl Target {
    /// The server listening on `addr` (plain http).
    pub(crate) fn new(addr: SocketAddr) -> Result<Target> {
        let consents = Url::parse(&format!("http://{addr}/v1/consents"))?;
        Ok(Target { addr, consents })
    }

    /// Where it listens.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn url(&self, path: &str) -> Result<Url> {
        Ok(self.consents.join(path)?)
    }
}

/// What became of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Outcome {
    /// An answer, with its status.
    Status(u16),
    /// No complete answer within [`REQUEST_TIMEOUT`].
    Timeout,
    /// The connection failed (refused, reset, or an answer that is not HTTP).
    Io,
}

impl Outcome {
    /// A receipt was recorded.
    pub(crate) const CREATED: Outcome = Outcome::Status(201);

    /// How the report names it.
    pub(crate) fn label(self) -> String {
        match self {
            Outcome::Status(s) => s.to_string(),
            Outcome::Timeout => "timeout".into(),
            Outcome::Io => "connection error".into(),
        }
    }
}

/// The HTTP client: reqwest over one pool of keep-alive connections, shared by every task, with
/// the connections it opens counted. Cloning it shares the pool.
#[derive(Clone)]
pub(crate) struct Client {
    inner: reqwest::Client,
    opened: Arc<AtomicU64>,
}

impl Client {
    /// HTTP/1.1, `TCP_NODELAY`, no proxy (the targets are on loopback), no retries (a consent
    /// request is not idempotent: each one sent records a receipt).
    pub(crate) fn new() -> Result<Client> {
        let opened = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&opened);
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        headers.insert(USER_AGENT, HeaderValue::from_static(BROWSER));
        let inner = reqwest::Client::builder()
            .default_headers(headers)
            .no_proxy()
            .tcp_nodelay(true)
            .retry(reqwest::retry::never())
            .connector_layer(tower::util::MapRequestLayer::new(move |destination| {
                counter.fetch_add(1, Ordering::Relaxed);
                destination
            }))
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Client { inner, opened })
    }

    /// Connections opened so far.
    pub(crate) fn connections_opened(&self) -> u64 {
        self.opened.load(Ordering::Relaxed)
    }

    /// `GET path`: the status and the body.
    pub(crate) async fn get(&self, target: &Target, path: &str) -> Result<(StatusCode, Vec<u8>)> {
        let url = target.url(path)?;
        let exchange = async {
            let response = self.inner.get(url).send().await?;
            let status = response.status();
            Ok::<_, reqwest::Error>((status, response.bytes().await?.to_vec()))
        };
        match tokio::time::timeout(REQUEST_TIMEOUT, exchange).await {
            Ok(r) => Ok(r.with_context(|| format!("GET {path} on {}", target.addr))?),
            Err(_) => bail!(
                "GET {path} on {}: no answer within {REQUEST_TIMEOUT:?}",
                target.addr
            ),
        }
    }

    /// Opens `n` connections to `target` at once and leaves them idle in the pool.
    pub(crate) async fn open(&self, target: &Target, n: usize) {
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..n {
            let (client, target) = (self.clone(), target.clone());
            tasks.spawn(async move { client.get(&target, "/healthz").await });
        }
        while tasks.join_next().await.is_some() {}
    }

    /// `POST /v1/consents` with `body`: what became of it, and the body of a 201 if `keep_body`.
    /// The answer is read to its end in every case, so the connection goes back to the pool.
    pub(crate) async fn post_consent(
        &self,
        target: &Target,
        body: Vec<u8>,
        keep_body: bool,
    ) -> (Outcome, Option<Vec<u8>>) {
        let request = self
            .inner
            .post(target.consents.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(body);
        let exchange = async {
            let response = request.send().await?;
            let status = response.status().as_u16();
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, (keep_body && status == 201).then(|| body.to_vec())))
        };
        match tokio::time::timeout(REQUEST_TIMEOUT, exchange).await {
            Ok(Ok((status, body))) => (Outcome::Status(status), body),
            Ok(Err(_)) => (Outcome::Io, None),
            Err(_) => (Outcome::Timeout, None),
        }
    }
}

/// One keep-alive HTTP/1.1 connection of its own (hyper's client connection, no pool), for a task of
/// the max-throughput phase that sends one request at a time: the same requests as [`Client`], with
/// less of the load generator's CPU per request (it shares the machine's cores with the server).
pub(crate) struct Connection {
    target: Target,
    host: HeaderValue,
    sender:
        Option<hyper::client::conn::http1::SendRequest<http_body_util::Full<hyper::body::Bytes>>>,
}

impl Connection {
    /// A connection to `target`, opened at the first request (and again after a failed one).
    pub(crate) fn new(target: Target) -> Result<Connection> {
        let host = HeaderValue::from_str(&target.addr.to_string())?;
        Ok(Connection {
            target,
            host,
            sender: None,
        })
    }

    async fn open(
        &self,
    ) -> Result<hyper::client::conn::http1::SendRequest<http_body_util::Full<hyper::body::Bytes>>>
    {
        let stream = tokio::net::TcpStream::connect(self.target.addr).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        Ok(sender)
    }

    /// `POST /v1/consents` with `body`, as [`Client::post_consent`] sends it (the same headers): what
    /// became of it, and the body of a 201 if `keep_body`. The answer is read to its end.
    pub(crate) async fn post_consent(
        &mut self,
        body: Vec<u8>,
        keep_body: bool,
    ) -> (Outcome, Option<Vec<u8>>) {
        let exchange = async {
            let mut sender = match self.sender.take() {
                Some(s) if !s.is_closed() => s,
                _ => self.open().await?,
            };
            sender.ready().await?;
            let request = hyper::Request::post(self.target.consents.path())
                .header(hyper::header::HOST, self.host.clone())
                .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                .header(ACCEPT, HeaderValue::from_static("application/json"))
                .header(USER_AGENT, HeaderValue::from_static(BROWSER))
                .body(http_body_util::Full::new(hyper::body::Bytes::from(body)))?;
            let response = sender.send_request(request).await?;
            let status = response.status().as_u16();
            let body = http_body_util::BodyExt::collect(response.into_body())
                .await?
                .to_bytes();
            self.sender = Some(sender);
            anyhow::Ok((status, (keep_body && status == 201).then(|| body.to_vec())))
        };
        match tokio::time::timeout(REQUEST_TIMEOUT, exchange).await {
            Ok(Ok((status, body))) => (Outcome::Status(status), body),
            Ok(Err(_)) => (Outcome::Io, None),
            Err(_) => {
                self.sender = None;
                (Outcome::Timeout, None)
            }
        }
    }
}

/// The body of `POST /v1/consents`: a visitor's first banner choice, naming no subject (the server
/// draws the device id, as for the banner's first choice), or with `named_device` naming a new random
/// device each time (which costs the server a lookup: has that device a choice already?).
#[derive(Debug, Clone)]
pub(crate) struct ConsentBody {
    bytes: Vec<u8>,
    /// Where the device id goes, when requests name one.
    device_at: Option<usize>,
}

impl ConsentBody {
    pub(crate) fn new(named_device: bool) -> ConsentBody {
        const PLACEHOLDER: &str = "DEVICEDEVICEDEVICEDEVI";
        let subject = if named_device {
            format!(r#","subject":{{"device":"{PLACEHOLDER}"}}"#)
        } else {
            String::new()
        };
        let text = format!(
            r#"{{"policy_version":"2025-03-26","decisions":{{"cookies-analytics":"given","cookies-marketing":"refused","cookies-preferences":"given"}},"method":"custom","language":"kk","collection_point":{{"kind":"banner","page":"https://invisionu.education/"}}{subject}}}"#
        );
        let device_at = text.find(PLACEHOLDER);
        ConsentBody {
            bytes: text.into_bytes(),
            device_at,
        }
    }

    /// The next request's body (with a new random device id, if requests name one).
    pub(crate) fn next(&self, rng: &mut Rng) -> Vec<u8> {
        let mut out = self.bytes.clone();
        if let Some(at) = self.device_at {
            out[at..at + DEVICE_ID_LEN].copy_from_slice(&device_id(rng));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_first_choice_names_no_subject() {
        let template = ConsentBody::new(false);
        let mut rng = Rng::new();
        let a = template.next(&mut rng);
        assert_eq!(a, template.next(&mut rng));
        let v: serde_json::Value = serde_json::from_slice(&a).unwrap();
        assert!(v.get("subject").is_none(), "{v}");
        assert_eq!(v["collection_point"]["kind"], "banner");
        assert_eq!(v["decisions"]["cookies-analytics"], "given");
    }

    #[test]
    fn each_body_is_the_request_with_another_device() {
        let template = ConsentBody::new(true);
        let mut rng = Rng::new();
        let (a, b) = (template.next(&mut rng), template.next(&mut rng));
        assert_ne!(a, b);
        let v: serde_json::Value = serde_json::from_slice(&a).unwrap();
        let device = v["subject"]["device"].as_str().unwrap();
        assert_eq!(device.len(), DEVICE_ID_LEN);
        assert_ne!(device, "DEVICEDEVICEDEVICEDEVI");
        assert_eq!(v["method"], "custom");
        assert_eq!(v["decisions"]["cookies-preferences"], "given");
    }

    #[test]
    fn targets_name_their_paths() {
        let t = Target::new(SocketAddr::from(([127, 0, 0, 1], 8080))).unwrap();
        assert_eq!(t.consents.as_str(), "http://127.0.0.1:8080/v1/consents");
        assert_eq!(
            t.url("/metrics").unwrap().as_str(),
            "http://127.0.0.1:8080/metrics"
        );
    }
}
