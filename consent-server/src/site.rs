//! The demo website and the banner files.
//!
//! - The demo website (`examples/invisionu-site`) is embedded in the binary at compile time and served at
//!   `/` when `site` is on (the default), with a strict Content-Security-Policy ([`SITE_CSP`]), in brotli
//!   or gzip when the browser accepts it (each file compressed on its first request, then kept).
//! - The built banner (`scripts/build-banner`: `banner.js`, `banner_bg.wasm`, `banner.css`,
//!   `build.sha256`) is read from `banner_dir` and served at `/consent/`, in brotli or gzip when the
//!   browser accepts it (each file is compressed once per version: its size and modification time). Only
//!   these four names are routes: no other path can reach the file system.

use std::path::Path;
use std::sync::OnceLock;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::Digest as _;

use crate::config::Config;
use crate::encoding::{self, Encoded};
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// The Content-Security-Policy of the demo site's pages: no inline script or style, no `eval`; only
/// `'wasm-unsafe-eval'` for the banner, and YouTube's no-cookie host for the embed the banner unblocks.
pub const SITE_CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
    style-src 'self'; img-src 'self' data: https://i.ytimg.com; \
    frame-src https://www.youtube-nocookie.com; connect-src 'self'; object-src 'none'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// One file of the demo site.
#[derive(Debug, Clone, Copy)]
pub struct SiteFile {
    /// The path it is served at.
    pub path: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its content.
    pub body: &'static [u8],
}

const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const SVG: &str = "image/svg+xml";

macro_rules! site_file {
    ($path:literal, $file:literal, $content_type:expr) => {
        SiteFile {
            path: $path,
            content_type: $content_type,
            body: include_bytes!(concat!("../../examples/invisionu-site/", $file)),
        }
    };
}

/// Every file of the demo site, by the path it is served at.
pub const SITE: &[SiteFile] = &[
    site_file!("/", "index.html", HTML),
    site_file!("/index.html", "index.html", HTML),
    site_file!("/video.html", "video.html", HTML),
    site_file!("/assets/site.css", "assets/site.css", CSS),
    site_file!("/assets/site.js", "assets/site.js", JS),
    site_file!("/assets/analytics-demo.js", "assets/analytics-demo.js", JS),
    site_file!("/assets/marketing-demo.js", "assets/marketing-demo.js", JS),
    site_file!("/assets/favicon.svg", "assets/favicon.svg", SVG),
];

/// The banner files served at `/consent/{name}` from `banner_dir`, with their `Content-Type`
/// (`application/wasm` is what `WebAssembly.instantiateStreaming` requires).
pub const BANNER_FILES: &[(&str, &str)] = &[
    ("banner.js", JS),
    ("banner_bg.wasm", "application/wasm"),
    ("banner.css", CSS),
    ("build.sha256", "text/plain; charset=utf-8"),
];

/// `Cache-Control` of the site's and the banner's files: the browser revalidates with the ETag every
/// time (a new build is picked up at once).
const REVALIDATE: &str = "no-cache";

/// The compressed forms of each file of [`SITE`] (same index), made on its first request and kept for
/// the life of the process (the files are in the binary).
static SITE_ENCODED: [OnceLock<Encoded>; SITE.len()] = [const { OnceLock::new() }; SITE.len()];

/// A page or asset of the demo site, in brotli or gzip when the browser accepts it (`kept`: its
/// compressed forms, made on the first request), with the site's security headers. (The `guard`
/// middleware adds `nosniff`, `X-Frame-Options` and the others it adds to every answer; it keeps what is
/// set here.)
fn site_answer(
    file: SiteFile,
    kept: &OnceLock<Encoded>,
    etag: &str,
    headers: &HeaderMap,
) -> Response {
    // The pages and assets are a few kilobytes: compressing one takes a millisecond or two, once.
    let body = kept.get_or_init(|| Encoded::new(Bytes::from_static(file.body)));
    let mut r = encoding::respond(headers, body, etag, file.content_type, REVALIDATE);
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(SITE_CSP),
    );
    // The YouTube embed needs the origin as referrer (its player refuses to play without one).
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=()"),
    );
    r
}

/// A banner file from `banner_dir`: 404 when it is not built.
async fn banner_file(
    state: AppState,
    name: &'static str,
    content_type: &'static str,
    headers: HeaderMap,
) -> Response {
    let path = state.config.banner_dir.join(name);
    let read = async {
        let stat = path.clone();
        let meta = tokio::task::spawn_blocking(move || std::fs::metadata(stat))
            .await
            .map_err(std::io::Error::other)??;
        let modified = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        let etag = format!("\"{:x}-{modified:x}\"", meta.len());
        let body = state
            .encoded(format!("consent/{name}"), &etag, move || {
                std::fs::read(&path)
            })
            .await?;
        Ok::<_, std::io::Error>((body, etag))
    };
    match read.await {
        Ok((body, etag)) => encoding::respond(&headers, &body, &etag, content_type, REVALIDATE),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "banner not built: run scripts/build-banner",
        )
        .into_response(),
        Err(e) => ApiError::internal(format!("reading banner file {name}: {e}")).into_response(),
    }
}

/// The routes of the demo site (when `site` is on) and of the banner files.
pub(crate) fn routes(config: &Config) -> Router<AppState> {
    let mut router = Router::new();
    if config.site {
        for (&file, kept) in SITE.iter().zip(&SITE_ENCODED) {
            let etag = format!("\"{}\"", &hex(&sha2::Sha256::digest(file.body))[..32]);
            router =
                router.route(
                    file.path,
                    get(move |headers: HeaderMap| async move {
                        site_answer(file, kept, &etag, &headers)
                    }),
                );
        }
    }
    for &(name, content_type) in BANNER_FILES {
        router = router.route(
            &format!("/consent/{name}"),
            get(move |State(state): State<AppState>, headers: HeaderMap| {
                banner_file(state, name, content_type, headers)
            }),
        );
    }
    router
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Says at start what is served: the demo site, and whether the banner is built.
pub fn log_startup(config: &Config) {
    let built = Path::new(&config.banner_dir).join("banner.js").is_file();
    if config.site {
        tracing::info!(
            "demo site (examples/invisionu-site) on http://{}/ (turn it off with site = false or CONSENT_SITE=off)",
            config.listen
        );
    }
    if built {
        tracing::info!(
            banner_dir = %config.banner_dir.display(),
            "banner served at /consent/"
        );
    } else if config.site {
        tracing::warn!(
            banner_dir = %config.banner_dir.display(),
            "banner not built: run scripts/build-banner (/consent/* answers 404 until then)"
        );
    } else {
        tracing::info!(
            banner_dir = %config.banner_dir.display(),
            "no banner files in banner_dir: /consent/* answers 404"
        );
    }
}
