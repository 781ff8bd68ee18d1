//! Compressed answers for what the server sends the most bytes of: the policy JSON (`/v1/policy`: 58 KB
//! for invisionu, 10 KB in brotli), which every first visit's banner fetches, the banner's files at
//! `/consent/`, and the demo site's pages and assets. Each body is compressed once (brotli at its best
//! quality, and gzip for clients without brotli) and kept; each request picks the form its
//! `Accept-Encoding` allows.

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Bodies smaller than this are sent as they are (compression would save a few bytes at most).
const MIN_SIZE: usize = 1024;

/// A content coding the server sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Coding {
    /// As is.
    Identity,
    /// `gzip`.
    Gzip,
    /// `br` (brotli).
    Br,
}

impl Coding {
    /// The `Content-Encoding` token (none for identity).
    fn token(self) -> Option<&'static str> {
        match self {
            Coding::Identity => None,
            Coding::Gzip => Some("gzip"),
            Coding::Br => Some("br"),
        }
    }

    /// The entity tag of this form of a body whose identity form has `etag` (`"…"`): each form has its
    /// own (a strong entity tag names exact bytes), `"…-br"` for brotli.
    pub(crate) fn etag(self, etag: &str) -> String {
        match (self.token(), etag.strip_suffix('"')) {
            (Some(token), Some(open)) => format!("{open}-{token}\""),
            _ => etag.to_owned(),
        }
    }
}

/// Whether `Accept-Encoding` accepts `coding`: named with a q-value above 0, or `*` above 0 when it
/// is not named. No header accepts nothing but identity.
fn accepts(headers: &HeaderMap, coding: &str) -> bool {
    let Some(value) = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mut any = false;
    for item in value.split(',') {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or_default().trim();
        let q = parts
            .filter_map(|p| {
                let (key, value) = p.split_once('=')?;
                key.trim()
                    .eq_ignore_ascii_case("q")
                    .then(|| value.trim().parse::<f32>().unwrap_or(0.0))
            })
            .next()
            .unwrap_or(1.0);
        if name.eq_ignore_ascii_case(coding) {
            return q > 0.0;
        }
        if name == "*" {
            any = q > 0.0;
        }
    }
    any
}

/// A body with its brotli and gzip forms (each kept only when it is smaller).
#[derive(Debug, Clone)]
pub(crate) struct Encoded {
    identity: Bytes,
    br: Option<Bytes>,
    gzip: Option<Bytes>,
}

impl Encoded {
    /// Compresses `body` (brotli quality 11, gzip level 9): tens of milliseconds for the policy in a
    /// release build, so callers do it once, off the async threads.
    pub(crate) fn new(body: impl Into<Bytes>) -> Encoded {
        let identity: Bytes = body.into();
        if identity.len() < MIN_SIZE {
            return Encoded {
                identity,
                br: None,
                gzip: None,
            };
        }
        let smaller =
            |form: Option<Vec<u8>>| form.filter(|f| f.len() < identity.len()).map(Bytes::from);
        let br = smaller(brotli(&identity));
        let gzip = smaller(gzip(&identity));
        Encoded { identity, br, gzip }
    }

    /// The form to send to a client that sent `headers`: brotli, else gzip, else the body as is.
    pub(crate) fn pick(&self, headers: &HeaderMap) -> (Coding, Bytes) {
        match (&self.br, &self.gzip) {
            (Some(br), _) if accepts(headers, "br") => (Coding::Br, br.clone()),
            (_, Some(gzip)) if accepts(headers, "gzip") => (Coding::Gzip, gzip.clone()),
            _ => (Coding::Identity, self.identity.clone()),
        }
    }

    /// Whether the answer depends on `Accept-Encoding` (there is a compressed form).
    pub(crate) fn varies(&self) -> bool {
        self.br.is_some() || self.gzip.is_some()
    }
}

/// Compressed bodies by key, each with the entity tag of what it was made from.
pub(crate) type Cache = Mutex<HashMap<String, (String, Arc<Encoded>)>>;

/// The entry of `key` when it was made from what `etag` tags.
pub(crate) fn cached(cache: &Cache, key: &str, etag: &str) -> Option<Arc<Encoded>> {
    let entries = cache.lock().ok()?;
    let (tag, e) = entries.get(key)?;
    (tag == etag).then(|| Arc::clone(e))
}

/// Keeps `e` for `key` (replacing what was made from an older version).
pub(crate) fn keep(cache: &Cache, key: String, etag: &str, e: &Arc<Encoded>) {
    if let Ok(mut entries) = cache.lock() {
        entries.insert(key, (etag.to_owned(), Arc::clone(e)));
    }
}

/// Whether `If-None-Match` names `etag` (or is `*`).
pub(crate) fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .map(|t| t.trim().trim_start_matches("W/"))
                .any(|t| t == etag || t == "*")
        })
}

/// A 200 with the form of `body` that `headers` accepts, or a 304 when `If-None-Match` names that form's
/// entity tag (`etag` is the tag of the body as is); with `Content-Type`, `ETag` and `Cache-Control`.
pub(crate) fn respond(
    headers: &HeaderMap,
    body: &Encoded,
    etag: &str,
    content_type: &'static str,
    cache_control: &'static str,
) -> Response {
    let (coding, bytes) = body.pick(headers);
    let etag = coding.etag(etag);
    let mut r = if not_modified(headers, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = Response::new(Body::from(bytes));
        let h = r.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        if let Some(token) = coding.token() {
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(token));
        }
        r
    };
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    // Caches must not give one client's form to another.
    if body.varies() {
        h.append(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    r
}

fn brotli(body: &[u8]) -> Option<Vec<u8>> {
    // Quality 11, a 4 MiB window (22 bits): the defaults of brotli's own command line tool.
    let mut w = ::brotli::CompressorWriter::new(Vec::new(), 4096, 11, 22);
    w.write_all(body).ok()?;
    w.flush().ok()?;
    Some(w.into_inner())
}

fn gzip(body: &[u8]) -> Option<Vec<u8>> {
    let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    w.write_all(body).ok()?;
    w.finish().ok()
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use super::*;

    fn with(accept: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_str(accept).unwrap(),
        );
        h
    }

    fn unbrotli(b: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        ::brotli::Decompressor::new(b, 4096)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    fn ungzip(b: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(b)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn accept_encoding_is_read_with_q_values_and_wildcards() {
        assert!(accepts(&with("gzip, deflate, br, zstd"), "br"));
        assert!(accepts(&with("GZIP"), "gzip"));
        assert!(accepts(&with("br;q=0.5"), "br"));
        assert!(accepts(&with("br ; Q=1.0"), "br"));
        assert!(!accepts(&with("br;q=0"), "br"));
        assert!(!accepts(&with("br;q=0.000"), "br"));
        assert!(!accepts(&with("br;q=nonsense"), "br"));
        assert!(accepts(&with("*"), "br"));
        assert!(!accepts(&with("*, br;q=0"), "br"));
        assert!(!accepts(&with("*;q=0"), "gzip"));
        assert!(!accepts(&with("identity"), "gzip"));
        assert!(!accepts(&with(""), "gzip"));
        assert!(!accepts(&HeaderMap::new(), "gzip"));
    }

    #[test]
    fn every_form_decompresses_to_the_body() {
        let body: Vec<u8> = (0..200)
            .flat_map(|i| format!("{{\"purpose\":{i},\"text\":\"consent\"}}").into_bytes())
            .collect();
        let e = Encoded::new(body.clone());
        assert!(e.varies());

        let (coding, br) = e.pick(&with("gzip, deflate, br"));
        assert_eq!(coding, Coding::Br);
        assert!(br.len() < body.len() / 4, "{} of {}", br.len(), body.len());
        assert_eq!(unbrotli(&br), body);

        let (coding, gz) = e.pick(&with("gzip"));
        assert_eq!(coding, Coding::Gzip);
        assert!(gz.len() < body.len() / 4);
        assert_eq!(ungzip(&gz), body);

        for accept in ["identity", "br;q=0, gzip;q=0", ""] {
            let (coding, same) = e.pick(&with(accept));
            assert_eq!(coding, Coding::Identity, "{accept}");
            assert_eq!(same, body);
        }
        assert_eq!(e.pick(&HeaderMap::new()).0, Coding::Identity);
    }

    #[test]
    fn small_bodies_are_sent_as_they_are() {
        let e = Encoded::new(&b"a short body, smaller than a kilobyte"[..]);
        assert!(!e.varies());
        assert_eq!(e.pick(&with("br, gzip")).0, Coding::Identity);
    }

    #[test]
    fn each_form_has_its_own_entity_tag() {
        assert_eq!(Coding::Br.etag("\"abc\""), "\"abc-br\"");
        assert_eq!(Coding::Gzip.etag("\"abc\""), "\"abc-gzip\"");
        assert_eq!(Coding::Identity.etag("\"abc\""), "\"abc\"");
    }

    #[test]
    fn answers_carry_the_coding_their_tag_and_vary() {
        let body: Vec<u8> = b"{\"consent\":true}".repeat(200);
        let e = Encoded::new(body);
        let r = respond(
            &with("gzip, br"),
            &e,
            "\"abc\"",
            "application/json",
            "no-cache",
        );
        assert_eq!(r.status(), StatusCode::OK);
        let h = r.headers();
        assert_eq!(h[header::CONTENT_ENCODING], "br");
        assert_eq!(h[header::ETAG], "\"abc-br\"");
        assert_eq!(h[header::VARY], "accept-encoding");
        assert_eq!(h[header::CACHE_CONTROL], "no-cache");

        // The tag of the brotli form revalidates the brotli form only.
        let mut again = with("gzip, br");
        again.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"abc-br\""),
        );
        let r = respond(&again, &e, "\"abc\"", "application/json", "no-cache");
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
        assert!(r.headers().get(header::CONTENT_ENCODING).is_none());
        again.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
        let r = respond(&again, &e, "\"abc\"", "application/json", "no-cache");
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[header::CONTENT_ENCODING], "gzip");

        // A body too small to compress is sent as it is, and does not vary.
        let r = respond(
            &with("br"),
            &Encoded::new(&b"x"[..]),
            "\"t\"",
            "text/plain",
            "no-cache",
        );
        assert!(r.headers().get(header::VARY).is_none());
        assert!(r.headers().get(header::CONTENT_ENCODING).is_none());
    }
}
