//! The demo site at `/` and the banner files at `/consent/`, through `tower::ServiceExt::oneshot`, on a
//! real SQLite file.

mod common;

use std::path::Path;

use axum::body::Body;
use axum::http::StatusCode;
use common::*;
use consent_core::Policy;
use consent_server::site::{BANNER_FILES, BUILD_FILES, SITE, SITE_CSP};

async fn get_path(s: &TestServer, uri: &str) -> Answer {
    call(s, get(uri).body(Body::empty()).unwrap()).await
}

/// The banner directory inside the test's own directory.
fn in_test_dir(c: &mut consent_server::config::Config) {
    c.banner_dir = c.keys.parent().unwrap().join("banner");
}

/// Writes small stand-ins for the built banner files into `banner_dir`.
fn banner_dir(s: &TestServer) -> std::path::PathBuf {
    let dir = s.state.config.banner_dir.clone();
    assert!(dir.starts_with(&s.dir));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("banner.js"), "export const banner = 1;\n").unwrap();
    std::fs::write(dir.join("banner_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    std::fs::write(dir.join("first.js"), "export const first = 1;\n").unwrap();
    std::fs::write(dir.join("first_bg.wasm"), b"\0asm\x01\0\0\0\0\0").unwrap();
    std::fs::write(dir.join("visit.js"), "export const visit = 1;\n").unwrap();
    std::fs::write(dir.join("visit_bg.wasm"), b"\0asm\x01\0\0\0\0").unwrap();
    std::fs::write(dir.join("full.js"), "export const full = 1;\n").unwrap();
    std::fs::write(dir.join("banner.css"), ".consent-banner { color: red }\n").unwrap();
    std::fs::write(dir.join("build.sha256"), format!("{}\n", "ab".repeat(32))).unwrap();
    // Files next to and above the banner directory that must never be reachable.
    std::fs::write(dir.join("names.json"), "{}").unwrap();
    std::fs::write(s.dir.join("secret.txt"), "top secret").unwrap();
    dir
}

fn header<'a>(r: &'a Answer, name: &str) -> &'a str {
    r.headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

#[tokio::test]
async fn home_page_is_served_with_a_strict_csp() {
    let s = server("site-home").await;
    let r = get_path(&s, "/").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(header(&r, "content-type"), "text/html; charset=utf-8");
    let html = r.text();
    assert!(html.contains("<html lang=\"kk\">"), "{html}");
    assert!(html.contains("inVisionU"));
    assert!(html.contains(
        "<script type=\"module\" src=\"/consent/banner.js\" data-endpoint=\"/\" data-policy-version=\"2025-03-26\"></script>"
    ));
    assert!(html.contains("<a href=\"#\" data-consent-open>"));
    assert!(html.contains("href=\"/video.html\""));

    let csp = header(&r, "content-security-policy");
    assert_eq!(csp, SITE_CSP);
    for directive in [
        "default-src 'self'",
        "script-src 'self' 'wasm-unsafe-eval'",
        "style-src 'self'",
        "frame-src https://www.youtube-nocookie.com",
        "connect-src 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(
            csp.split("; ").any(|d| d == directive),
            "{directive} in {csp}"
        );
    }
    assert!(!csp.contains("'unsafe-inline'") && !csp.contains("'unsafe-eval'"));
    assert_eq!(header(&r, "x-content-type-options"), "nosniff");
    assert_eq!(header(&r, "x-frame-options"), "DENY");
    assert_eq!(
        header(&r, "referrer-policy"),
        "strict-origin-when-cross-origin"
    );
    assert_eq!(header(&r, "cache-control"), "no-cache");

    // Revalidation with the ETag.
    let etag = header(&r, "etag").to_owned();
    let r = revalidate(&s, "/", &etag).await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    assert!(r.body.is_empty());
    // /index.html is the same page.
    let r = get_path(&s, "/index.html").await;
    assert_eq!((r.status, header(&r, "etag")), (StatusCode::OK, &*etag));
}

#[tokio::test]
async fn video_page_has_an_embed_blocked_until_consent() {
    let s = server("site-video").await;
    let r = get_path(&s, "/video.html").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(header(&r, "content-type"), "text/html; charset=utf-8");
    assert_eq!(header(&r, "content-security-policy"), SITE_CSP);
    let html = r.text();
    let start = html.find("<iframe").expect("an iframe");
    let tag = &html[start..start + html[start..].find('>').unwrap()];
    assert!(tag.contains("data-consent=\"cookies-marketing\""), "{tag}");
    assert!(
        tag.contains("data-src=\"https://www.youtube-nocookie.com/embed/"),
        "{tag}"
    );
    assert!(tag.contains("title=\""), "{tag}");
    // No `src`: nothing loads from YouTube before consent.
    assert!(
        !tag.split_whitespace().any(|a| a.starts_with("src=")),
        "{tag}"
    );
    assert_eq!(html.matches("<iframe").count(), 1);
    assert!(html.contains("<a href=\"#\" data-consent-open>"));
}

#[tokio::test]
async fn every_site_file_is_served_with_its_type() {
    let s = server("site-assets").await;
    for f in SITE {
        let r = get_path(&s, f.path).await;
        assert_eq!(r.status, StatusCode::OK, "{}", f.path);
        assert_eq!(header(&r, "content-type"), f.content_type, "{}", f.path);
        assert_eq!(r.body, f.body, "{}", f.path);
    }
    for (path, content_type) in [
        (
            "/assets/analytics-demo.js",
            "text/javascript; charset=utf-8",
        ),
        (
            "/assets/marketing-demo.js",
            "text/javascript; charset=utf-8",
        ),
        ("/assets/site.js", "text/javascript; charset=utf-8"),
        ("/assets/site.css", "text/css; charset=utf-8"),
    ] {
        let r = get_path(&s, path).await;
        assert_eq!(
            (r.status, header(&r, "content-type")),
            (StatusCode::OK, content_type),
            "{path}"
        );
    }
    // Unknown files of the site are the API's JSON 404.
    let r = get_path(&s, "/assets/nothing.js").await;
    assert_eq!(
        (r.status, r.error().0.as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
}

/// Pages and assets of a kilobyte or more go out in brotli or gzip when the browser accepts it, with
/// their own entity tag per form and `Vary: Accept-Encoding`; smaller ones as they are.
#[tokio::test]
async fn site_files_are_compressed_when_the_browser_accepts_it() {
    let s = server("site-compressed").await;
    let mut compressed = 0;
    for f in SITE {
        let plain = get_path(&s, f.path).await;
        assert!(
            plain.headers.get("content-encoding").is_none(),
            "{}",
            f.path
        );
        let plain_etag = header(&plain, "etag").to_owned();
        for (accept, coding) in [("gzip, deflate, br", "br"), ("gzip", "gzip")] {
            let req = get(f.path).header("accept-encoding", accept);
            let r = call(&s, req.body(Body::empty()).unwrap()).await;
            assert_eq!(r.status, StatusCode::OK, "{}", f.path);
            let got = r
                .headers
                .get("content-encoding")
                .map(|v| v.to_str().unwrap().to_owned());
            assert_eq!(
                got.is_some(),
                f.body.len() >= 1024,
                "{} ({} bytes): {got:?}",
                f.path,
                f.body.len()
            );
            assert_eq!(decoded(&r.body, got.as_deref()), f.body, "{}", f.path);
            assert_eq!(header(&r, "content-type"), f.content_type);
            assert_eq!(header(&r, "content-security-policy"), SITE_CSP);
            if let Some(got) = got {
                compressed += 1;
                assert_eq!(got, coding);
                assert!(r.body.len() < f.body.len(), "{}", f.path);
                let etag = header(&r, "etag");
                assert_eq!(
                    etag,
                    format!("{}-{coding}\"", plain_etag.trim_end_matches('"'))
                );
                assert!(
                    r.headers
                        .get_all("vary")
                        .iter()
                        .any(|v| v.to_str().unwrap().contains("accept-encoding")),
                    "{}",
                    f.path
                );
                // Revalidation with the compressed form's tag.
                let req = get(f.path)
                    .header("accept-encoding", accept)
                    .header("if-none-match", etag);
                let again = call(&s, req.body(Body::empty()).unwrap()).await;
                assert_eq!(again.status, StatusCode::NOT_MODIFIED, "{}", f.path);
            }
        }
    }
    // The two pages (three paths), the stylesheet and two of the scripts, in two codings each.
    assert!(compressed >= 10, "{compressed}");
}

/// The pages work under their CSP: no inline script or style, every local URL they name is served, and
/// the purposes they name exist in the policy, whose declared cookies are the ones the demo scripts set.
#[tokio::test]
async fn pages_fit_their_csp_and_the_policy() {
    let policy = Policy::from_toml(POLICY).unwrap();
    let served: Vec<&str> = SITE.iter().map(|f| f.path).collect();
    for page in SITE.iter().filter(|f| f.path.ends_with(".html")) {
        let html = std::str::from_utf8(page.body).unwrap();
        assert!(!html.contains("<style"), "{}", page.path);
        assert!(!html.contains(" style="), "{}", page.path);
        assert!(
            !html.split(" on").skip(1).any(|rest| {
                let name = rest
                    .split(|c: char| !c.is_ascii_lowercase())
                    .next()
                    .unwrap();
                rest[name.len()..].starts_with('=')
            }),
            "{}: no event handler attributes",
            page.path
        );
        assert!(!html.contains("javascript:"), "{}", page.path);
        for script in html.split("<script").skip(1) {
            let (tag, rest) = script.split_once('>').unwrap();
            assert!(
                rest.starts_with("</script>"),
                "{}: inline script <script{tag}>",
                page.path
            );
            assert!(
                tag.contains(" src=\"/") || tag.contains(" data-src=\"/"),
                "{}: <script{tag}>",
                page.path
            );
        }
        for attr in [" src=\"/", " href=\"/", " data-src=\"/"] {
            for rest in html.split(attr).skip(1) {
                let url = format!("/{}", rest.split('"').next().unwrap());
                assert!(
                    served.contains(&url.as_str()) || url == "/consent/banner.js",
                    "{}: {url} is not served",
                    page.path
                );
            }
        }
        for rest in html.split("data-consent=\"").skip(1) {
            let purpose = rest.split('"').next().unwrap();
            assert!(
                policy.purpose_by_str(purpose).is_some(),
                "{}: unknown purpose {purpose}",
                page.path
            );
        }
    }
    for (script, purpose, cookies) in [
        (
            "/assets/analytics-demo.js",
            "cookies-analytics",
            &["_ga", "_ga_DEMO"][..],
        ),
        (
            "/assets/marketing-demo.js",
            "cookies-marketing",
            &["_fbp", "_gcl_au"][..],
        ),
    ] {
        let category = policy
            .purpose_by_str(purpose)
            .unwrap()
            .cookie_category
            .unwrap();
        let declared = &policy.cookie_category(category).unwrap().cookies;
        let body =
            std::str::from_utf8(SITE.iter().find(|f| f.path == script).unwrap().body).unwrap();
        for name in cookies {
            assert!(
                declared.iter().any(|c| c.matches(name)),
                "{name} is not declared for {purpose}"
            );
            assert!(
                body.contains(&format!("\"{name}\"")),
                "{script} sets {name}"
            );
        }
        assert!(
            !body.contains("fetch(")
                && !body.contains("XMLHttpRequest")
                && !body.contains("sendBeacon")
        );
    }
}

#[tokio::test]
async fn banner_files_come_from_banner_dir_with_their_types() {
    let s = server_with("site-banner", in_test_dir).await;
    let dir = banner_dir(&s);
    for &(name, content_type) in BANNER_FILES {
        let r = get_path(&s, &format!("/consent/{name}")).await;
        assert_eq!(r.status, StatusCode::OK, "{name}");
        assert_eq!(header(&r, "content-type"), content_type, "{name}");
        assert_eq!(r.body, std::fs::read(dir.join(name)).unwrap(), "{name}");
        assert_eq!(header(&r, "cache-control"), "no-cache", "{name}");
        assert_eq!(header(&r, "x-content-type-options"), "nosniff");
    }
    let r = get_path(&s, "/consent/banner.js").await;
    assert_eq!(header(&r, "content-type"), "text/javascript; charset=utf-8");
    let r = get_path(&s, "/consent/banner_bg.wasm").await;
    assert_eq!(header(&r, "content-type"), "application/wasm");
    assert_eq!(&r.body[..4], b"\0asm");
    let etag = header(&r, "etag").to_owned();
    let r = revalidate(&s, "/consent/banner_bg.wasm", &etag).await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    // A rebuild is served without a restart.
    std::fs::write(dir.join("banner.css"), ".consent-banner { color: blue }\n").unwrap();
    let r = get_path(&s, "/consent/banner.css").await;
    assert!(r.text().contains("blue"));
}

#[tokio::test]
async fn banner_files_are_compressed_once_per_build() {
    let s = server_with("site-banner-compressed", in_test_dir).await;
    let dir = banner_dir(&s);
    let js = |n: usize| {
        (0..n)
            .map(|i| format!("export const purpose{i} = \"cookies-analytics\";\n"))
            .collect::<String>()
    };
    std::fs::write(dir.join("banner.js"), js(400)).unwrap();
    for (accept, coding) in [
        ("gzip, deflate, br", Some("br")),
        ("gzip", Some("gzip")),
        ("", None),
    ] {
        let req = get("/consent/banner.js").header("accept-encoding", accept);
        let r = call(&s, req.body(Body::empty()).unwrap()).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(
            r.headers
                .get("content-encoding")
                .map(|v| v.to_str().unwrap()),
            coding
        );
        assert_eq!(decoded(&r.body, coding), js(400).as_bytes(), "{accept}");
        assert_eq!(header(&r, "content-type"), "text/javascript; charset=utf-8");
    }
    // A new build replaces the kept forms (the entity tag follows the file's size and time).
    std::fs::write(dir.join("banner.js"), js(500)).unwrap();
    let req = get("/consent/banner.js").header("accept-encoding", "br");
    let r = call(&s, req.body(Body::empty()).unwrap()).await;
    assert_eq!(decoded(&r.body, Some("br")), js(500).as_bytes());
    // Files under a kilobyte are sent as they are, and do not vary.
    let req = get("/consent/build.sha256").header("accept-encoding", "br");
    let r = call(&s, req.body(Body::empty()).unwrap()).await;
    assert!(r.headers.get("content-encoding").is_none());
    assert!(
        !r.headers
            .get_all("vary")
            .iter()
            .any(|v| v == "accept-encoding")
    );
}

#[tokio::test]
async fn banner_not_built_is_404() {
    let s = server_with("site-nobanner", |c| {
        c.banner_dir = std::env::temp_dir().join("consent-test-no-such-banner-dir")
    })
    .await;
    assert!(!Path::new(&s.state.config.banner_dir).exists());
    for &(name, _) in BANNER_FILES {
        let r = get_path(&s, &format!("/consent/{name}")).await;
        assert_eq!(
            (r.status, r.error().0.as_str()),
            (StatusCode::NOT_FOUND, "not_found"),
            "{name}"
        );
        assert!(
            r.json()["error"]["message"]
                .as_str()
                .unwrap()
                .contains("scripts/build-banner")
        );
    }
    // The site itself is still there.
    assert_eq!(get_path(&s, "/").await.status, StatusCode::OK);
}

#[tokio::test]
async fn site_off_serves_no_pages() {
    let s = server_with("site-off", |c| {
        c.site = false;
        in_test_dir(c);
    })
    .await;
    banner_dir(&s);
    for f in SITE {
        let r = get_path(&s, f.path).await;
        assert_eq!(
            (r.status, r.error().0.as_str()),
            (StatusCode::NOT_FOUND, "not_found"),
            "{}",
            f.path
        );
    }
    // The API is unaffected.
    assert_eq!(get_path(&s, "/v1/policy").await.status, StatusCode::OK);
    // The banner files do not depend on the demo site.
    assert_eq!(
        get_path(&s, "/consent/banner.js").await.status,
        StatusCode::OK
    );
}

/// Issue 18.3: a return visit makes no request for the banner's files: the pages name them under their
/// build's content-hashed directory, served as immutable for a year.
#[tokio::test]
async fn pages_name_the_banner_under_its_build_id_served_immutable() {
    let s = server_with("site-banner-hashed", in_test_dir).await;
    let dir = banner_dir(&s);
    // Not built with a build.id: the pages name /consent/banner.js.
    let page = get_path(&s, "/").await.text();
    assert!(page.contains("src=\"/consent/banner.js\""), "{page}");
    let id = "0123456789abcdef";
    std::fs::create_dir_all(dir.join(id)).unwrap();
    for &(name, _) in BUILD_FILES {
        std::fs::copy(dir.join(name), dir.join(id).join(name)).unwrap();
    }
    std::fs::write(dir.join("build.id"), format!("{id}\n")).unwrap();
    for path in ["/", "/video.html"] {
        let r = get_path(&s, path).await;
        assert!(
            r.text()
                .contains(&format!("src=\"/consent/{id}/banner.js\"")),
            "{path}"
        );
        assert!(!r.text().contains("\"/consent/banner.js\""), "{path}");
        assert_eq!(header(&r, "cache-control"), "no-cache", "{path}");
        assert!(header(&r, "etag").ends_with(&format!("-{id}\"")), "{path}");
        assert!(r.headers.contains_key("content-security-policy"));
    }
    for &(name, content_type) in BUILD_FILES {
        let r = get_path(&s, &format!("/consent/{id}/{name}")).await;
        assert_eq!(r.status, StatusCode::OK, "{name}");
        assert_eq!(header(&r, "content-type"), content_type, "{name}");
        assert_eq!(
            header(&r, "cache-control"),
            "public, max-age=31536000, immutable"
        );
        assert_eq!(r.body, std::fs::read(dir.join(name)).unwrap(), "{name}");
    }
    // Another build's id, a name that is not one of the three, an id that is not 16 hex digits.
    for uri in [
        "/consent/fedcba9876543210/banner.js".to_owned(),
        format!("/consent/{id}/build.sha256"),
        format!("/consent/{id}/names.json"),
        "/consent/0123456789ABCDEF/banner.js".to_owned(),
        "/consent/0123456789abcde/banner.js".to_owned(),
        "/consent/%2e%2e/banner.js".to_owned(),
    ] {
        let r = get_path(&s, &uri).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(r.error().0, "not_found", "{uri}");
    }
    // A new build: the pages name its directory at once.
    std::fs::write(dir.join("build.id"), "fedcba9876543210\n").unwrap();
    let page = get_path(&s, "/").await.text();
    assert!(page.contains("src=\"/consent/fedcba9876543210/banner.js\""));
}

#[tokio::test]
async fn no_path_traversal() {
    let s = server_with("site-traversal", in_test_dir).await;
    banner_dir(&s);
    for uri in [
        "/consent/../Cargo.toml",
        "/consent/../secret.txt",
        "/consent/%2e%2e/secret.txt",
        "/consent/%2e%2e%2fsecret.txt",
        "/consent/..%2fsecret.txt",
        "/consent/..%5csecret.txt",
        "/consent/%2E%2E/%2E%2E/Cargo.toml",
        "/consent/banner.js/../../secret.txt",
        "/consent/./banner.js",
        "/consent/names.json",
        "/consent/",
        "/consent",
        "/consent/BANNER.JS",
        "/consent/banner.js%00",
        "/assets/../Cargo.toml",
        "/assets/%2e%2e/Cargo.toml",
        "/../Cargo.toml",
    ] {
        let r = get_path(&s, uri).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(r.error().0, "not_found", "{uri}");
        assert!(!r.text().contains("top secret"), "{uri}");
        assert!(!r.text().contains("[package]"), "{uri}");
    }
}

#[tokio::test]
async fn api_answers_are_unchanged_and_unknown_api_paths_are_json() {
    let s = server("site-api").await;
    let r = get_path(&s, "/v1/policy").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        header(&r, "content-security-policy"),
        "default-src 'none'; frame-ancestors 'none'"
    );
    assert_eq!(header(&r, "referrer-policy"), "no-referrer");
    for uri in ["/v1/nothing", "/v1/consents/x/y", "/v1", "/nowhere"] {
        let r = get_path(&s, uri).await;
        assert_eq!(
            (r.status, r.error().0.as_str()),
            (StatusCode::NOT_FOUND, "not_found"),
            "{uri}"
        );
        assert_eq!(header(&r, "content-type"), "application/json", "{uri}");
        assert_eq!(header(&r, "referrer-policy"), "no-referrer", "{uri}");
    }
}
