// banner-speed.mjs's test page: the in-page probe (/probe.js) and the script that reads what it measured,
// the site-like page with the banner's tag (or cookieconsent's, or none), its stylesheet and CSP, the
// files the static server serves (with --steps, a copy of the build with performance marks added), and
// the version of the cookieconsent it compares with.

import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { bannerFiles } from "./lib.mjs";

// The probe: an external classic script (allowed by the CSP, runs before the module), first in <head>.
const probe = `(() => {
  const s = (window.__speed = {
    dialogInserted: null, dialogFrame: null, dialogRaf: null,
    reopenInserted: null, reopenFrame: null, reopenRaf: null,
    elements: {}, fcp: null, longTasks: [], loafs: [], shifts: [], cls: 0,
    csp: [], errors: [], unsupported: [],
  });
  document.addEventListener("securitypolicyviolation", (e) => s.csp.push(e.violatedDirective + " " + e.blockedURI));
  addEventListener("unhandledrejection", (e) => s.errors.push(String(e.reason)));
  addEventListener("error", (e) => s.errors.push(String(e.message)));
  const observe = (type, each) => {
    if (!PerformanceObserver.supportedEntryTypes.includes(type)) return s.unsupported.push(type);
    new PerformanceObserver((list) => list.getEntries().forEach(each)).observe({ type, buffered: true });
  };
  observe("longtask", (e) => s.longTasks.push([e.startTime, e.duration]));
  // Long animation frames, with the scripts that ran in them (source file, what called it, ms).
  observe("long-animation-frame", (e) => s.loafs.push([e.startTime, e.duration, e.blockingDuration,
    (e.scripts || []).map((x) => [x.sourceURL.replace(location.origin, ""), x.invoker, Math.round(x.duration)])]));
  observe("layout-shift", (e) => {
    if (e.hadRecentInput) return;
    s.cls += e.value;
    // What moved, and whether it is the banner's (inside #consent-banner or .consent-reopen).
    let banner = false;
    const what = (e.sources || []).map((x) => {
      const el = x.node && (x.node.nodeType === 1 ? x.node : x.node.parentElement);
      if (!el) return "?";
      if (el.closest("#consent-banner, .consent-reopen")) banner = true;
      const name = el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.classList.length ? "." + [...el.classList].join(".") : "");
      const r = (q) => Math.round(q.x) + "," + Math.round(q.y) + " " + Math.round(q.width) + "x" + Math.round(q.height);
      return (x.node.nodeType === 3 ? "text in " : "") + name + " " + r(x.previousRect) + " -> " + r(x.currentRect);
    });
    s.shifts.push([e.startTime, e.value, banner, what.join("; ")]);
  });
  observe("paint", (e) => { if (e.name === "first-contentful-paint") s.fcp = e.startTime; });
  // The click on "Accept all" (a real one: WebDriver's Element Click is trusted input): its time, the
  // first paint after it (rAF estimate), and Event Timing's entries for it (INP: its longest duration,
  // from the input to the next paint; entries under 16 ms are not reported).
  s.clickAt = null; s.clickPaint = null; s.events = [];
  addEventListener("click", (e) => {
    if (!e.isTrusted || s.clickAt !== null) return;
    s.clickAt = e.timeStamp;
    s.clickHandled = performance.now();
    requestAnimationFrame(() => {
      const ch = new MessageChannel();
      ch.port1.onmessage = () => { s.clickPaint = performance.now(); };
      ch.port2.postMessage(0);
    });
  }, true);
  if (PerformanceObserver.supportedEntryTypes.includes("event")) {
    new PerformanceObserver((list) => list.getEntries().forEach((e) => {
      if (e.interactionId) s.events.push([e.name, e.startTime, e.duration]);
    })).observe({ type: "event", buffered: true, durationThreshold: 16 });
  }
  observe("element", (e) => { if (!(e.identifier in s.elements)) s.elements[e.identifier] = e.renderTime || e.loadTime; });
  // The first frame in which el is rendered: its rAF callback, then a message, which runs after its paint.
  const painted = (el, key) => {
    let frames = 0;
    const frame = () => {
      const shown = el.isConnected && (el.checkVisibility ? el.checkVisibility() : el.getClientRects().length > 0);
      if (!shown) { if (++frames < 600) requestAnimationFrame(frame); return; }
      s[key + "Frame"] = performance.now();
      const ch = new MessageChannel();
      ch.port1.onmessage = () => { s[key + "Raf"] = performance.now(); };
      ch.port2.postMessage(0);
    };
    requestAnimationFrame(frame);
  };
  const find = (node, test, selector) => node.nodeType === 1 && (test(node) ? node : node.querySelector(selector));
  const mo = new MutationObserver((records) => {
    const now = performance.now();
    for (const r of records) for (const n of r.addedNodes) {
      if (s.dialogInserted === null) {
        // Ours, or cookieconsent's consent modal (in --compare's reference loads).
        const d = find(n, (e) => e.id === "consent-banner" || e.matches("#cc-main .cm"), "#consent-banner, #cc-main .cm");
        if (d) { s.dialogInserted = now; painted(d, "dialog"); }
      }
      if (s.reopenInserted === null) {
        const b = find(n, (e) => e.classList.contains("consent-reopen"), ".consent-reopen");
        if (b) { s.reopenInserted = now; painted(b, "reopen"); }
      }
    }
  });
  mo.observe(document, { childList: true, subtree: true });
})();`;

// A page like the site's: text, a fixed-size image placeholder (a box: the CSP allows no images), a
// footer link that reopens the dialog, one blocked analytics script. /site.css is the site's stylesheet.
const paragraph = (n) =>
  `<p>Paragraph ${n}. inVision U is a university of the new generation in Almaty: full scholarships, project-based
learning and mentors from industry. Applicants take an online test, write an essay and come to an interview;
the admissions committee answers every letter within two weeks. Students live on campus, study in small
groups and build products with partner companies from the first year.</p>`;
// An inline script of the analytics purpose, blocked until "Accept all": it records when it runs (its
// hash is in the CSP). Ours marks it with data-consent, cookieconsent with data-category. Before the
// blocked script file: scripts run in document order, and one after a file waits for the file to load.
const grantedJs = "window.__granted=performance.now()";
const grantedHash = crypto.createHash("sha256").update(grantedJs).digest("base64");
const pageWith = (banner, granted = `data-consent="cookies-analytics"`) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>inVision U: admissions</title>
<script src="/probe.js"></script>
<link rel="stylesheet" href="/site.css">
${banner}
</head><body>
<header><nav><a href="/">inVision U</a> <a href="/programs">Programs</a> <a href="/admissions">Admissions</a> <a href="/about">About</a></nav></header>
<main>
<h1 elementtiming="page-title">Admissions 2025</h1>
<div class="hero" role="img" aria-label="The campus"></div>
${paragraph(1)}
<h2>How to apply</h2>
${paragraph(2)}
${paragraph(3)}
<h2>Scholarships</h2>
${paragraph(4)}
<ul><li>Tuition: covered in full</li><li>Housing: on campus</li><li>Meals and a stipend</li></ul>
<h2>Dates</h2>
${paragraph(5)}
${paragraph(6)}
</main>
<footer><a href="#" data-consent-open>Cookie settings</a> · © inVision U</footer>
<script type="text/plain" ${granted}>${grantedJs}</script>
<script type="text/plain" data-consent="cookies-analytics" data-src="/analytics.js"></script>
</body></html>`;
const css = `body { margin: 0; font: 16px/1.5 system-ui, sans-serif; color: #1e1f22; }
header { padding: 1rem 2rem; background: #0b3d91; } header a { color: #fff; margin-right: 1rem; }
main { max-width: 48rem; margin: 0 auto; padding: 1rem 2rem; }
.hero { width: 100%; height: 300px; background: #d9e2ec; border-radius: 8px; }
footer { padding: 2rem; text-align: center; background: #f1f3f5; }`;
const cached = { "cache-control": "public, max-age=3600" };

// --preload: hints for what a first visit's part needs (`endpoint`: the consent-server's, which serves the view).
const preloadHints = (endpoint) => `<link rel="modulepreload" href="/banner/first.js">
<link rel="preload" href="/banner/first_bg.wasm" as="fetch" crossorigin>
<link rel="preload" href="${endpoint}/v1/policy/banner/en" as="fetch" crossorigin>
<link rel="preload" href="/banner/banner.css" as="style">
`;

/**
 * What the test site serves (lib.mjs's `staticSite`): the banner's page at "/" (`asyncTag`, `highPriority`:
 * the attributes of its tag; `preload`: the hints on a first visit only), the probe, the site's
 * stylesheet, the blocked analytics script and the banner's build read from `bannerDir` (`steps`: with
 * its marks); with `compare` (cookieconsent's dist directory), cookieconsent's page and files and the page
 * with no banner. `endpoint` is the consent-server's.
 */
export function siteFiles({ endpoint, bannerDir, compare, preload, asyncTag, highPriority, steps }) {
  const bannerTag = `<script type="module"${asyncTag ? " async" : ""}${highPriority ? ' fetchpriority="high"' : ""} src="/banner/banner.js" data-endpoint="${endpoint}" data-policy-version="2025-03-26"></script>`;
  const page = pageWith(bannerTag);
  // --preload: the hints on a first visit only (no consent cookie in the request).
  const firstVisitPage = pageWith(preloadHints(endpoint) + bannerTag);
  const pageFor = (res, req) => res.end(/(^|;\s*)consent=/.test(req.headers.cookie || "") ? page : firstVisitPage);
  const files = {
    "/": ["text/html", preload ? pageFor : page, { "cache-control": "no-store" }],
    "/probe.js": ["text/javascript", probe, cached],
    "/site.css": ["text/css", css, cached],
    "/analytics.js": ["text/javascript", `window.__analytics = true;`, cached],
  };
  if (compare) {
    files["/reference/cookieconsent"] = ["text/html", pageWith(
      `<link rel="stylesheet" href="/reference/cookieconsent.css">\n<script type="module" src="/reference/cookieconsent-config.js"></script>`,
      `data-category="analytics"`,
    ), { "cache-control": "no-store" }];
    files["/reference/plain"] = ["text/html", pageWith(""), { "cache-control": "no-store" }];
    for (const [name, from] of [
      ["cookieconsent.esm.js", path.join(compare, "cookieconsent.esm.js")],
      ["cookieconsent.css", path.join(compare, "cookieconsent.css")],
      ["cookieconsent-config.js", new URL("cookieconsent-config.js", import.meta.url)],
    ]) {
      files[`/reference/${name}`] = [name.endsWith(".css") ? "text/css" : "text/javascript", fs.readFileSync(from), cached];
    }
  }
  // Read once, so the files served stay those of one build even if target/banner is rebuilt meanwhile.
  for (const [url, [type, body]] of Object.entries(bannerFiles(bannerDir))) files[url] = [type, body, cached];
  if (steps) {
    // The bootstrap starts; each part's glue imported and wasm compiled (the first of each is the part's:
    // the full banner's come after the dialog).
    files["/banner/banner.js"][1] = 'performance.mark("boot");' + markSteps(files["/banner/banner.js"][1].toString(), "banner.js", [
      [/return Promise\.all\(\[import\((\w+)\),(\w+)\]\)/, (_, g, m) =>
        `return Promise.all([import(${g}).then((x)=>(performance.mark("glue"),x)),${m}.then((x)=>(performance.mark("wasm"),x))])`],
    ]);
    files["/banner/first.js"][1] = markSteps(files["/banner/first.js"][1].toString(), "first.js", [
      // first(): called, its layer written (showModal next), shown, returned.
      [/let (\w+);try\{\1=/, (m) => m.replace("try{", 'performance.mark("first");try{')],
      [/(\w+)\((\w+)\)\.showModal\(\)/, (m) => `performance.mark("showModal"),${m},performance.mark("shown")`],
      [/if\(!(\w+)\)return (\w+)\(\);/, (m) => 'performance.mark("firstEnd");' + m],
    ]);
  }
  return files;
}

// --steps: `text` with each of `marks` ([pattern, replacer]) applied once; a pattern found other than
// once stops the report (the build's glue changed: update the patterns).
function markSteps(text, name, marks) {
  for (const [pattern, replacer] of marks) {
    const found = text.match(new RegExp(pattern.source, "g"));
    if (!found || found.length !== 1) {
      throw new Error(`--steps: ${name} has ${found ? found.length : 0} matches of /${pattern.source}/, not 1; update markSteps' patterns`);
    }
    text = text.replace(pattern, replacer);
  }
  return text;
}

/** The page's Content-Security-Policy: the end-to-end check's, and the granted inline script's hash. */
export const contentSecurityPolicy = (endpoint) =>
  `default-src 'none'; script-src 'self' 'wasm-unsafe-eval' 'sha256-${grantedHash}'; style-src 'self'; connect-src 'self' ${endpoint}`;

// What one load measured, read from the page once it has settled.
export const snapshot = `const s = window.__speed, nav = performance.getEntriesByType("navigation")[0];
  const reopen = document.querySelector(".consent-reopen");
  return { ...s, granted: window.__granted ?? null, dialogNow: !!document.getElementById("consent-banner"),
    reopenPosition: reopen && getComputedStyle(reopen).position,
    marks: performance.getEntriesByType("mark").map((m) => [m.name, m.startTime]), nav: nav && { responseEnd: nav.responseEnd, domContentLoaded: nav.domContentLoadedEventEnd, load: nav.loadEventEnd },
    resources: performance.getEntriesByType("resource").map((r) => ({ name: r.name.replace(location.origin, ""),
      start: r.startTime, end: r.responseEnd, transfer: r.transferSize })) }`;

/** The version of the cookieconsent in `compare` (its dist directory), from its package.json; "?" if unread. */
export function cookieconsentVersion(compare) {
  let version = "?";
  try {
    version = JSON.parse(fs.readFileSync(path.join(compare, "..", "package.json"), "utf8")).version;
  } catch {}
  return version;
}
