//! The demo website and the banner files.
//!
//! - The demo website (`examples/invisionu-site`) is embedded in the binary at compile time and served at
//!   `/` when `site` is on (the default), with a strict Content-Security-Policy ([`SITE_CSP`]), in brotli
//!   or gzip when the browser accepts it (each file compressed on its first request, then kept).
//! - The built banner (`scripts/build-banner`: the files of [`BUILD_FILES`], the bootstrap `banner.js`,
//!   the first and the return visit's parts and the full banner's, and the stylesheet, plus `build.sha256`) is read
//!   from `banner_dir` and served at `/consent/`, in brotli or gzip when the browser accepts it (each
//!   file is compressed once per version: its size and modification time). Only these names are
//!   routes: no other path can reach the file system.
//! - The same build's files under a content-hashed directory, `/consent/{id}/banner.js` (and the
//!   others of [`BUILD_FILES`]), where `id` is `build.id` (16 hex digits of the SHA-256 of those files;
//!   `scripts/build-banner` copies them into `banner_dir/{id}/`), cached for a year as immutable: a
//!   return visit makes no request for them. The demo site's pages name that URL when `build.id` is
//!   there (the `banner.js` of the page is rewritten as the page is served), else `/consent/banner.js`.

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

/// The files of a banner build, with their `Content-Type` (`application/wasm` is what
/// `WebAssembly.compileStreaming` requires): the bootstrap (`banner.js`), the first visit's part
/// (`first.js`, `first_bg.wasm`), the return visit's first part (`visit.js`, `visit_bg.wasm`), the full
/// banner (`full.js`, `banner_bg.wasm`) and the stylesheet.
/// Served at `/consent/{name}` and, immutable, at `/consent/{id}/{name}`.
pub const BUILD_FILES: &[(&str, &str)] = &[
    ("banner.js", JS),
    ("first.js", JS),
    ("first_bg.wasm", WASM),
    ("visit.js", JS),
    ("visit_bg.wasm", WASM),
    ("full.js", JS),
    ("banner_bg.wasm", WASM),
    ("banner.css", CSS),
];

/// The banner files served at `/consent/{name}` from `banner_dir`: [`BUILD_FILES`], then
/// `build.sha256` (the SHA-256 of the full banner's wasm, which receipts record).
pub const BANNER_FILES: &[(&str, &str)] = &[
    BUILD_FILES[0],
    BUILD_FILES[1],
    BUILD_FILES[2],
    BUILD_FILES[3],
    BUILD_FILES[4],
    BUILD_FILES[5],
    BUILD_FILES[6],
    BUILD_FILES[7],
    ("build.sha256", "text/plain; charset=utf-8"),
];

const WASM: &str = "application/wasm";

/// `Cache-Control` of the site's and the banner's files: the browser revalidates with the ETag every
/// time (a new build is picked up at once).
const REVALIDATE: &str = "no-cache";

/// `Cache-Control` of the banner's files under their build's content-hashed directory.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The banner URL the demo site's pages name, rewritten to the content-hashed one when it is built.
const BANNER_JS: &str = "\"/consent/banner.js\"";

/// The id of the banner build in `dir` (its `build.id`: 16 lowercase hex digits), if there is one.
async fn build_id(dir: &Path) -> Option<String> {
    let path = dir.join("build.id");
    let id = tokio::task::spawn_blocking(move || std::fs::read_to_string(path))
        .await
        .ok()?
        .ok()?;
    let id = id.trim();
    is_build_id(id).then(|| id.to_owned())
}

fn is_build_id(id: &str) -> bool {
    id.len() == 16
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The compressed forms of each file of [`SITE`] (same index), made on its first request and kept for
/// the life of the process (the files are in the binary).
static SITE_ENCODED: [OnceLock<Encoded>; SITE.len()] = [const { OnceLock::new() }; SITE.len()];

/// A page or asset of the demo site, in brotli or gzip when the browser accepts it (`kept`: its
/// compressed forms, made on the first request), with the site's security headers. (The `guard`
/// middleware adds `nosniff`, `X-Frame-Options` and the others it adds to every answer; it keeps what is
/// set here.)
fn site_answer(file: SiteFile, body: &Encoded, etag: &str, headers: &HeaderMap) -> Response {
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

/// A page of the demo site that names the banner: with `/consent/{id}/banner.js` when the banner is
/// built with a `build.id`, compressed once per build.
async fn page_answer(
    state: AppState,
    file: SiteFile,
    kept: &'static OnceLock<Encoded>,
    etag: String,
    headers: HeaderMap,
) -> Response {
    let page = std::str::from_utf8(file.body)
        .ok()
        .filter(|p| p.contains(BANNER_JS));
    let id = match page {
        Some(_) => build_id(&state.config.banner_dir).await,
        None => None,
    };
    let (Some(page), Some(id)) = (page, id) else {
        // The pages and assets are a few kilobytes: compressing one takes a millisecond or two, once.
        let body = kept.get_or_init(|| Encoded::new(Bytes::from_static(file.body)));
        return site_answer(file, body, &etag, &headers);
    };
    let etag = format!("{}-{id}\"", etag.trim_end_matches('"'));
    let hashed = format!("\"/consent/{id}/banner.js\"");
    let rewritten = page.replace(BANNER_JS, &hashed).into_bytes();
    match state
        .encoded(format!("site{}", file.path), &etag, move || Ok(rewritten))
        .await
    {
        Ok(body) => site_answer(file, &body, &etag, &headers),
        Err(e) => ApiError::internal(format!("compressing {}: {e}", file.path)).into_response(),
    }
}

/// `GET /consent/{id}/{name}`: a banner file of the build `id` (its content-hashed directory in
/// `banner_dir`), immutable; 404 for another id or name.
async fn hashed_banner_file(
    State(state): State<AppState>,
    axum::extract::Path((id, name)): axum::extract::Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let file = BUILD_FILES.iter().find(|(n, _)| *n == name.as_str());
    match file {
        Some(&(name, content_type)) if is_build_id(&id) => {
            let path = Path::new(&id).join(name);
            banner_file(state, path, content_type, IMMUTABLE, headers).await
        }
        _ => ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "no such banner build or file",
        )
        .into_response(),
    }
}

/// A banner file from `banner_dir` (`path` inside it): 404 when it is not built.
async fn banner_file(
    state: AppState,
    path: std::path::PathBuf,
    content_type: &'static str,
    cache: &'static str,
    headers: HeaderMap,
) -> Response {
    let name = path.display().to_string();
    let key = format!("consent/{name}");
    let path = state.config.banner_dir.join(path);
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
            .encoded(key, &etag, move || std::fs::read(&path))
            .await?;
        Ok::<_, std::io::Error>((body, etag))
    };
    match read.await {
        Ok((body, etag)) => encoding::respond(&headers, &body, &etag, content_type, cache),
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
            router = router.route(
                file.path,
                get(move |State(state): State<AppState>, headers: HeaderMap| {
                    page_answer(state, file, kept, etag.clone(), headers)
                }),
            );
        }
    }
    for &(name, content_type) in BANNER_FILES {
        router = router.route(
            &format!("/consent/{name}"),
            get(move |State(state): State<AppState>, headers: HeaderMap| {
                banner_file(state, name.into(), content_type, REVALIDATE, headers)
            }),
        );
    }
    router = router.route("/consent/{id}/{name}", get(hashed_banner_file));
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
