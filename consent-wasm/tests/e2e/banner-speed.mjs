// Speed report for the built banner (target/banner): how soon the dialog is on screen after navigation
// start, the longest main-thread task, and layout shift, on a local page in headless Chromium driven
// through chromedriver (WebDriver over HTTP: Node's own fetch, no npm packages). A report, not a test:
// the figures never fail it; only a harness failure or a dialog that never appears does.
//
// The page is a realistic one (header, headings, paragraphs, a fixed-size image placeholder, a footer)
// with the end-to-end check's strict CSP, the banner embedded with its one <script type="module"> tag, and
// the real consent-server (temporary database and keys). A classic /probe.js, first in <head>, observes:
//   - PerformanceObserver `longtask`, `long-animation-frame`, `layout-shift` (sum of values without
//     hadRecentInput), `paint` (FCP) and `element` (Element Timing), all buffered;
//   - a MutationObserver that records performance.now() when #consent-banner (and .consent-reopen) is
//     inserted, then the first frame in which it is rendered: requestAnimationFrame, then a MessageChannel
//     message, which runs right after that frame's paint (the rAF estimate).
// "Painted" is Element Timing's renderTime for the identifier `consent-banner` when the banner sets
// `elementtiming="consent-banner"`, else the rAF estimate; the report says which. "Dialog after page FCP"
// is that time minus the page's own first contentful paint: the banner's share, which depends less on how
// busy the machine is (on a 2-core VM the page's FCP alone varies from 45 to 110 ms).
//
// Loads: one unmeasured warm-up (which fills the HTTP cache), then N "cold" loads (HTTP cache disabled
// with CDP Network.setCacheDisabled, or a fresh browser profile per load if chromedriver's CDP endpoint
// does not work) alternating with N "warm" ones (cached files), then one choice (accept all) and N "return
// visits" with the consent cookie (no dialog; the floating reopen button). Cookies and storage are
// cleared between first visits.
// All times are milliseconds from navigation start (performance.timeOrigin).
//
// --compare <dir> adds, interleaved with those loads (so that the machine's load weighs on all alike), the
// same page twice more: with cookieconsent v3 instead of the banner (its cookieconsent.esm.js and
// cookieconsent.css from <dir>, configured by cookieconsent-config.js next to this file: three categories,
// the same kind of first layer), cold and warm; and with no banner at all (its first paint is the floor
// any banner's time stands on). What scripts/banner-speed --compare reports as "reference". And return
// visits with cookieconsent's cookie, each after one of ours: when the granted inline script ran, for both
// (issue 18.3: "runs the granted scripts sooner than cookieconsent").
//
// --trace records a Chromium trace of every load (chromedriver's performance log with the devtools.timeline
// and v8.wasm categories) and adds where the main thread's time went from the moment banner.js starts to
// the dialog's paint: the banner's script and wasm code, wasm compilation, style and layout, paint, other
// work, and idle (waiting for the network). Less noisy than the end-to-end times, it says what a change to
// the banner saved; the tracing itself slows the loads (their end-to-end times are not comparable with
// untraced runs).
//
// --preload gives the banner's page, when its request has no consent cookie (as a site that renders its
// pages could), hints for what a first visit's part needs: <link rel="modulepreload"> of first.js,
// <link rel="preload"> of first_bg.wasm and of the banner view (as="fetch" crossorigin) and of banner.css
// (as="style"), so that they are asked for while the page is parsed rather than when banner.js runs (an
// experiment: consent-wasm/README.md#speed says what it measured). A return visit's page has none. The
// report says whether each preload was used (one request each, not two): the view's is used only by a
// bootstrap that fetches it with a preload's credentials mode (`same-origin`), not `omit`.
//
// --steps serves a copy of the build with performance.mark() calls added (the files on disk are not
// touched) and reports, cold, warm and on return visits, when each step of the chain happened: banner.js
// starting to run, the part's glue imported and its wasm compiled, first() starting, its DOM written,
// showModal(), first() returning (a first visit), the granted inline script running (a return visit);
// beside DOMContentLoaded, the load event and the page's first paint. It says where the time between the
// bootstrap and the dialog goes without a trace's slowdown (the marks cost microseconds). It fails if the
// build's minified glue no longer has what it marks.
//
// --async puts `async` on the banner's <script type="module"> tag (an experiment: the bootstrap then runs
// as soon as it has arrived instead of once the page is parsed); --high puts `fetchpriority="high"` on
// it (Chromium fetches module scripts in <head> at a low priority, after the page's render-blocking
// resources).
//
// Usage (scripts/banner-speed does this):
//   node banner-speed.mjs <consent-server binary> <banner dir> <work dir> [--quick] [--runs N] [--out FILE]
//       [--reduced-motion] [--compare <cookieconsent dist dir>] [--trace] [--preload] [--async] [--high]
//       [--steps]
// --reduced-motion emulates `prefers-reduced-motion: reduce` (CDP Emulation.setEmulatedMedia): no fade-in,
// and Chromium then reports Element Timing for the dialog's title, which it does not for text first painted
// at opacity 0 (the first frame of banner.css's fade-in).

import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  ConsentServer,
  bannerFiles,
  chromiumArgs,
  freePort,
  killChildren,
  sleep,
  startChromedriver,
  staticSite,
  waitFor,
} from "./lib.mjs";

const argv = process.argv.slice(2);
const positional = [];
let runs = 20;
let out;
let reducedMotion = false;
let compare;
let trace = false;
let steps = false;
let preload = false;
let asyncTag = false;
let highPriority = false;
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === "--quick") runs = 5;
  else if (argv[i] === "--runs") runs = Number(argv[++i]);
  else if (argv[i] === "--out") out = argv[++i];
  else if (argv[i] === "--reduced-motion") reducedMotion = true;
  else if (argv[i] === "--compare") compare = argv[++i];
  else if (argv[i] === "--trace") trace = true;
  else if (argv[i] === "--steps") steps = true;
  else if (argv[i] === "--preload") preload = true;
  else if (argv[i] === "--async") asyncTag = true;
  else if (argv[i] === "--high") highPriority = true;
  else positional.push(argv[i]);
}
const [serverBin, bannerDir, work] = positional;
if (!work || !(runs >= 1) || (argv.includes("--compare") && !compare)) {
  console.error(
    "usage: node banner-speed.mjs <consent-server binary> <banner dir> <work dir> [--quick] [--runs N] [--out FILE] [--reduced-motion] [--compare DIR] [--trace] [--preload] [--async] [--high] [--steps]",
  );
  process.exit(2);
}
out ??= path.join(bannerDir, "speed.json");

const TARGET_VISIBLE_MS = 100;
const LONG_TASK_MS = 50;
const SETTLE_MS = 500; // after the dialog (or the reopen button) is painted, to catch late tasks and shifts

const serverPort = await freePort();
const sitePort = await freePort();
const driverPort = await freePort();
const site = `http://127.0.0.1:${sitePort}`;
const server = new ConsentServer(serverBin, work, serverPort, site);
const endpoint = server.endpoint;

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
const preloads = `<link rel="modulepreload" href="/banner/first.js">
<link rel="preload" href="/banner/first_bg.wasm" as="fetch" crossorigin>
<link rel="preload" href="${endpoint}/v1/policy/banner/en" as="fetch" crossorigin>
<link rel="preload" href="/banner/banner.css" as="style">
`;
const bannerTag = `<script type="module"${asyncTag ? " async" : ""}${highPriority ? ' fetchpriority="high"' : ""} src="/banner/banner.js" data-endpoint="${endpoint}" data-policy-version="2025-03-26"></script>`;
const page = pageWith(bannerTag);
// --preload: the hints on a first visit only (no consent cookie in the request).
const firstVisitPage = pageWith(preloads + bannerTag);
const pageFor = (res, req) => res.end(/(^|;\s*)consent=/.test(req.headers.cookie || "") ? page : firstVisitPage);
const css = `body { margin: 0; font: 16px/1.5 system-ui, sans-serif; color: #1e1f22; }
header { padding: 1rem 2rem; background: #0b3d91; } header a { color: #fff; margin-right: 1rem; }
main { max-width: 48rem; margin: 0 auto; padding: 1rem 2rem; }
.hero { width: 100%; height: 300px; background: #d9e2ec; border-radius: 8px; }
footer { padding: 2rem; text-align: center; background: #f1f3f5; }`;
const cached = { "cache-control": "public, max-age=3600" };
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
// Read once, so the files served stay those of one build even if target/banner is rebuilt meanwhile. The
// build is the SHA-256 of the wasm (what build.sha256 holds).
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
const build = crypto.createHash("sha256").update(files["/banner/banner_bg.wasm"][1]).digest("hex");
const csp = `default-src 'none'; script-src 'self' 'wasm-unsafe-eval' 'sha256-${grantedHash}'; style-src 'self'; connect-src 'self' ${endpoint}`;
const web = await staticSite(sitePort, files, { "content-security-policy": csp });

// What one load measured, read from the page once it has settled.
const snapshot = `const s = window.__speed, nav = performance.getEntriesByType("navigation")[0];
  const reopen = document.querySelector(".consent-reopen");
  return { ...s, granted: window.__granted ?? null, dialogNow: !!document.getElementById("consent-banner"),
    reopenPosition: reopen && getComputedStyle(reopen).position,
    marks: performance.getEntriesByType("mark").map((m) => [m.name, m.startTime]), nav: nav && { responseEnd: nav.responseEnd, domContentLoaded: nav.domContentLoadedEventEnd, load: nav.loadEventEnd },
    resources: performance.getEntriesByType("resource").map((r) => ({ name: r.name.replace(location.origin, ""),
      start: r.startTime, end: r.responseEnd, transfer: r.transferSize })) }`;

const round = (x) => (x === null || x === undefined ? null : Math.round(x * 10) / 10);

function summarize(raw, visit) {
  const et = raw.elements["consent-banner"];
  const painted = visit === "first" ? (et !== undefined ? et : raw.dialogRaf) : null;
  const tasks = raw.longTasks.map(([, d]) => d);
  const wasm = raw.resources.find((r) => r.name.endsWith("banner_bg.wasm"));
  return {
    dialogInserted: round(raw.dialogInserted),
    dialogPainted: round(painted),
    paintedBy: visit === "first" ? (et !== undefined ? "element-timing" : "raf") : null,
    dialogFrame: round(raw.dialogFrame),
    dialogRaf: round(raw.dialogRaf),
    reopenInserted: round(raw.reopenInserted),
    reopenPainted: round(raw.reopenRaf),
    reopenPosition: raw.reopenPosition,
    // When the blocked inline script of a granted purpose ran (a return visit; before any click).
    granted: round(raw.granted),
    fcp: round(raw.fcp),
    // The banner's share, less dependent on how busy the machine is than the absolute figure: how long
    // after the page's own first paint the dialog is painted.
    afterFcp: painted !== null && raw.fcp !== null ? round(painted - raw.fcp) : null,
    pageTitleElementTiming: round(raw.elements["page-title"]),
    longestTask: round(tasks.length ? Math.max(...tasks) : 0),
    longTasks: tasks.filter((d) => d > LONG_TASK_MS).length,
    longTaskList: raw.longTasks.map(([t, d]) => [round(t), round(d)]),
    longestAnimationFrame: round(raw.loafs.length ? Math.max(...raw.loafs.map(([, d]) => d)) : 0),
    animationFrames: raw.loafs.map(([t, d, blocking, scripts]) => ({ t: round(t), duration: round(d), blocking: round(blocking), scripts })),
    cls: Math.round(raw.cls * 10000) / 10000,
    bannerCls: Math.round(raw.shifts.filter(([, , banner]) => banner).reduce((sum, [, v]) => sum + v, 0) * 10000) / 10000,
    shifts: raw.shifts.map(([t, v, banner, sources]) => ({ t: round(t), value: Math.round(v * 10000) / 10000, banner, sources })),
    // --steps: the first time each mark was made (ms from navigation start).
    steps: Object.fromEntries(raw.marks.reverse().map(([name, t]) => [name, round(t)])),
    domContentLoaded: round(raw.nav?.domContentLoaded),
    loadEvent: round(raw.nav?.load),
    wasmTransferSize: wasm ? wasm.transfer : null,
    resources: raw.resources.map((r) => ({ ...r, start: round(r.start), end: round(r.end) })),
    csp: raw.csp,
    errors: raw.errors,
    unsupported: raw.unsupported,
  };
}

// Percentiles by nearest rank.
function stats(values, digits = 1) {
  const v = values.filter((x) => x !== null && x !== undefined).sort((a, b) => a - b);
  if (!v.length) return null;
  const rank = (p) => v[Math.min(v.length - 1, Math.ceil((p / 100) * v.length) - 1)];
  const r = (x) => Math.round(x * 10 ** digits) / 10 ** digits;
  return { n: v.length, median: r(rank(50)), p95: r(rank(95)), max: r(v[v.length - 1]) };
}

const metrics = [
  ["dialogInserted", "dialog inserted (ms)"],
  ["dialogPainted", "dialog painted (ms)"],
  ["dialogRaf", "  rAF estimate (ms)"],
  ["fcp", "page FCP (ms)"],
  ["afterFcp", "dialog after page FCP (ms)"],
  ["longestTask", "longest task (ms)"],
  ["longTasks", "long tasks > 50 ms (count)"],
  ["longestAnimationFrame", "longest animation frame (ms)"],
  ["cls", "layout shift (CLS)", 4],
  ["reopenPainted", "reopen button painted (ms)"],
  ["granted", "granted script ran (ms)"],
];

let session;
const sessions = [];
let driver;
let failure;
const loads = { cold: [], warm: [], return: [] };
// --compare: cookieconsent (cold, warm, return visits) and the page without a banner.
const reference = { cold: [], warm: [], plain: [], return: [] };
let cacheMode;
let chromium;
const loadavg = [os.loadavg()];

async function newSession(name) {
  const s = await driver.session(
    [...chromiumArgs(), `--user-data-dir=${path.join(work, name)}`],
    trace
      ? {
          chromeOptions: {
            perfLoggingPrefs: { enableNetwork: false, enablePage: false, traceCategories: "devtools.timeline,v8,v8.wasm,blink.user_timing" },
          },
          capabilities: { "goog:loggingPrefs": { performance: "ALL" } },
        }
      : {},
  );
  sessions.push(s);
  chromium ??= s.capabilities.browserVersion;
  if (reducedMotion) {
    await s.cdp("Emulation.setEmulatedMedia", { features: [{ name: "prefers-reduced-motion", value: "reduce" }] });
  }
  return s;
}

// One page load, measured: `visit` is "first" (wait for the dialog) or "return" (wait for the reopen button);
// `url` is the page's path (another than "/" in --compare's reference loads; "plain": wait for the first paint).
async function load(s, visit, label, url = "/", click = null) {
  if (trace) {
    // Chromedriver starts a new trace when its log is read, and a CDP command since the last read (cold
    // loads send one) leaves the next one empty: one trace for this load, given time to start.
    await traceEvents(s);
    await sleep(200);
  }
  await s.open("about:blank");
  await s.open(`${site}${url}`);
  if (url === "/reference/plain") {
    await waitFor(`the page's first paint (${label})`, () => s.js(`return window.__speed.fcp !== null`), 15000);
  } else if (visit === "first") {
    await waitFor(`the dialog (${label})`, () => s.js(`const s = window.__speed; return s.dialogRaf !== null`), 15000);
  } else if (url === "/reference/cookieconsent") {
    // cookieconsent's return visit: its granted script.
    await waitFor(`the granted script (${label})`, () => s.js(`return window.__granted !== undefined`), 15000);
  } else {
    // No dialog is expected; the reopen button shows once the banner has read the cookie.
    await waitFor(`the page to load (${label})`, () => s.js(`return document.readyState === "complete"`), 15000);
    await waitFor(`the reopen button (${label})`, () => s.js(`return window.__speed.reopenRaf !== null`), 5000).catch(
      () => {},
    );
  }
  await sleep(SETTLE_MS);
  const m = summarize(await s.js(snapshot), visit);
  if (trace) m.mainThread = mainThread(await traceEvents(s), url, m.dialogPainted);
  if (click) m.click = await acceptAll(s, click, label);
  if (visit === "first") {
    // The next first visit must show the dialog again: no cookie, nothing stored.
    await s.request("DELETE", "/cookie");
    await s.js(`localStorage.clear(); sessionStorage.clear()`);
  } else if (m.dialogInserted !== null) {
    throw new Error(`the dialog appeared on a return visit (${label}) although the consent cookie is set`);
  }
  return m;
}

// The trace events chromedriver has collected since the last call (reading them empties its buffer).
async function traceEvents(s) {
  const events = [];
  for (const entry of await s.request("POST", "/se/log", { type: "performance" })) {
    const { method, params } = JSON.parse(entry.message).message;
    if (method !== "Tracing.dataCollected") continue;
    const value = params.value ?? params;
    if (Array.isArray(value)) events.push(...value);
    else events.push(value);
  }
  return events;
}

// Where the page's main thread spent its time between banner.js starting to run (its module evaluation)
// and the dialog's paint (`until`, ms from navigation start), in ms: top-level tasks split into their
// wasm compilation, style and layout, paint, and the rest of script (the banner's JS and wasm: evaluation,
// callbacks, microtasks); other top-level work; idle. Null when the trace lacks the page or the module.
function mainThread(events, url, until) {
  const nav = events
    .filter((e) => e.name === "navigationStart" && e.args?.data?.documentLoaderURL === `${site}${url}`)
    .pop();
  if (!nav || until === null) return null;
  const end = nav.ts + until * 1000;
  const thread = events
    .filter((e) => e.pid === nav.pid && e.tid === nav.tid && e.ph === "X" && e.ts >= nav.ts && e.ts < end)
    .sort((a, b) => a.ts - b.ts || b.dur - a.dur);
  const start = thread.find((e) => e.name === "v8.evaluateModule")?.ts;
  if (start === undefined) return null;
  const kinds = { wasmCompile: 0, styleLayout: 0, paint: 0, script: 0, other: 0 };
  const kindOf = (name) =>
    name.startsWith("wasm.") || name.startsWith("v8.wasm.")
      ? "wasmCompile"
      : name === "UpdateLayoutTree" || name === "Layout"
        ? "styleLayout"
        : name === "Paint" || name === "PrePaint" || name === "Layerize" || name === "Commit"
          ? "paint"
          : null;
  const scriptish = /^(v8\.evaluateModule|v8\.callFunction|FunctionCall|EvaluateScript|RunMicrotasks|BlinkScheduler_PerformMicrotaskCheckpoint|TimerFire|FireAnimationFrame|EventDispatch)$/;
  let busy = 0;
  let topEnd = -Infinity;
  let top;
  let claimedEnd = -Infinity; // the end of the last event counted in a kind (nested ones are inside it)
  for (const e of thread) {
    const from = Math.max(e.ts, start);
    const to = Math.min(e.ts + e.dur, end);
    if (to <= from) continue;
    if (e.ts >= topEnd) {
      // A top-level task: all of it is busy time, script or other by default.
      top = { kind: "other", left: to - from };
      topEnd = e.ts + e.dur;
      busy += to - from;
      kinds.other += to - from;
      claimedEnd = -Infinity;
    }
    if (e.ts < claimedEnd) continue;
    const kind = kindOf(e.name) ?? (scriptish.test(e.name) && top.kind === "other" ? "script" : null);
    if (!kind) continue;
    const d = to - from;
    if (kind === "script") {
      // The task is script: move what is left of it from other to script (its compile, style, layout
      // and paint parts move to their own kinds as they come).
      kinds.other -= top.left;
      kinds.script += top.left;
      top.kind = "script";
      continue;
    }
    kinds[kind] += d;
    kinds[top.kind] -= d;
    top.left -= d;
    claimedEnd = e.ts + e.dur;
  }
  const ms = (x) => Math.round(x / 100) / 10;
  return {
    from: ms(start - nav.ts),
    to: until,
    ...Object.fromEntries(Object.entries(kinds).map(([k, v]) => [k, ms(v)])),
    idle: ms(end - start - busy),
  };
}

function progress(mode, i, m) {
  const t = (x) => (x === null ? "-" : String(x));
  const what =
    mode === "return"
      ? `no dialog, reopen button painted ${t(m.reopenPainted)} ms`
      : `dialog inserted ${t(m.dialogInserted)} ms, painted ${t(m.dialogPainted)} ms (${m.paintedBy}), FCP ${t(m.fcp)} ms`;
  console.log(`  ${mode.padEnd(6)} ${String(i + 1).padStart(2)}: ${what}, longest task ${m.longestTask} ms, CLS ${m.cls}`);
}

// "Accept all" clicked for real (`selector`: ours or cookieconsent's button), once the page has settled:
// the click to the next paint (rAF estimate), INP (Event Timing's longest entry of the interaction, when
// one of 16 ms or more is reported), and the blocked inline analytics script running after the click.
const ACCEPT = '[data-consent-action="accept-all"]';
const CC_ACCEPT = '#cc-main .cm [data-role="all"]';
async function acceptAll(s, selector, label) {
  const found = await s.request("POST", "/element", { using: "css selector", value: selector });
  await s.request("POST", `/element/${Object.values(found)[0]}/click`, {});
  await waitFor(`the paint after the click (${label})`, () => s.js(`return window.__speed.clickPaint !== null`), 5000);
  await waitFor(`the granted script (${label})`, () => s.js(`return window.__granted !== undefined`), 5000).catch(() => {});
  await sleep(200); // Event Timing's entries come after the frame
  const c = await s.js(`const s = window.__speed; return { at: s.clickAt, handled: s.clickHandled, paint: s.clickPaint, granted: window.__granted ?? null, events: s.events }`);
  const inp = c.events.length ? Math.max(...c.events.map(([, , d]) => d)) : null;
  return {
    toPaint: round(c.paint - c.at),
    inputDelay: round(c.handled - c.at),
    inp,
    granted: c.granted === null ? null : round(c.granted - c.at),
  };
}

try {
  await server.start();
  driver = await startChromedriver(driverPort);
  session = await newSession("profile");
  console.log(
    `banner speed: build ${build.slice(0, 12)}, Chromium ${chromium}, ${runs} loads each${reducedMotion ? ", prefers-reduced-motion: reduce (emulated)" : ""}${trace ? ", traced" : ""}${preload ? ", with preload hints" : ""}, ${os.cpus().length} CPUs, load average ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}`,
  );

  // Cold: the HTTP cache off through CDP for that load; else a fresh profile (and browser) per cold load.
  // Cold and warm loads alternate, so that whatever else runs on the machine weighs on both alike.
  try {
    await session.cdp("Network.enable");
    await session.cdp("Network.setCacheDisabled", { cacheDisabled: false });
    cacheMode = "cdp";
  } catch (e) {
    cacheMode = "fresh-profile";
    console.log(`  (CDP Network.setCacheDisabled failed: ${e.message}; a fresh profile per cold load)`);
  }
  await load(session, "first", "warm-up"); // also fills the cache
  for (let i = 0; i < runs; i++) {
    let m;
    if (cacheMode === "cdp") {
      await session.cdp("Network.setCacheDisabled", { cacheDisabled: true });
      m = await load(session, "first", `cold ${i + 1}`);
      await session.cdp("Network.setCacheDisabled", { cacheDisabled: false });
    } else {
      const s = await newSession(`cold-${i}`);
      m = await load(s, "first", `cold ${i + 1}`);
      await s.close();
    }
    loads.cold.push(m);
    progress("cold", i, m);
    m = await load(session, "first", `warm ${i + 1}`, "/", compare ? ACCEPT : null);
    loads.warm.push(m);
    progress("warm", i, m);
    if (compare) {
      if (i === 0) {
        await load(session, "first", "reference warm-up", "/reference/cookieconsent");
        await load(session, "first", "reference warm-up", "/reference/plain");
      }
      if (cacheMode === "cdp") {
        await session.cdp("Network.setCacheDisabled", { cacheDisabled: true });
        reference.cold.push(await load(session, "first", `cookieconsent cold ${i + 1}`, "/reference/cookieconsent"));
        await session.cdp("Network.setCacheDisabled", { cacheDisabled: false });
      }
      reference.warm.push(await load(session, "first", `cookieconsent warm ${i + 1}`, "/reference/cookieconsent", CC_ACCEPT));
      reference.plain.push(await load(session, "first", `no banner ${i + 1}`, "/reference/plain"));
    }
  }

  // Return visits: one real choice first, then loads with the consent cookie.
  await session.open("about:blank");
  await session.open(`${site}/`);
  await waitFor("the dialog (choice)", () => session.js(`return !!document.getElementById("consent-banner")`), 15000);
  await session.js(`document.querySelector('[data-consent-action="accept-all"]').click()`);
  await waitFor("the consent cookie", () => session.js(`return document.cookie.includes("consent=")`));
  await load(session, "return", "return warm-up");
  if (compare) {
    // cookieconsent's choice too (its own cookie, beside ours), then its return visits interleaved.
    await session.open(`${site}/reference/cookieconsent`);
    await waitFor("cookieconsent's dialog (choice)", () => session.js(`return !!document.querySelector('${CC_ACCEPT}')`), 15000);
    await session.js(`document.querySelector('${CC_ACCEPT}').click()`);
    await waitFor("cookieconsent's cookie", () => session.js(`return document.cookie.includes("cc_cookie=")`));
    await load(session, "return", "cookieconsent return warm-up", "/reference/cookieconsent");
  }
  for (let i = 0; i < runs; i++) {
    const m = await load(session, "return", `return ${i + 1}`);
    loads.return.push(m);
    progress("return", i, m);
    if (compare) reference.return.push(await load(session, "return", `cookieconsent return ${i + 1}`, "/reference/cookieconsent"));
  }
} catch (e) {
  failure = e.message;
} finally {
  for (const s of sessions) await s.close().catch(() => {});
  web.close();
  killChildren();
}
loadavg.push(os.loadavg());

if (failure) {
  console.log(`banner speed: FAILED: ${failure}`);
  process.exit(1);
}

// The report.
const firstVisits = [...loads.cold, ...loads.warm];
const byElementTiming = firstVisits.filter((m) => m.paintedBy === "element-timing").length;
const sources = [...new Set(firstVisits.map((m) => m.paintedBy))];
const summary = {};
for (const mode of ["cold", "warm", "return"]) {
  summary[mode] = {};
  for (const [key, , digits] of metrics) summary[mode][key] = stats(loads[mode].map((m) => m[key]), digits);
}
const cell = (st) => (st ? `${st.median}`.padStart(8) + `${st.p95}`.padStart(8) + `${st.max}`.padStart(8) : "       -       -       -");
console.log(`\n${"".padEnd(30)}${"cold: median".padStart(16)}${"p95".padStart(8)}${"max".padStart(8)}${"warm: median".padStart(16)}${"p95".padStart(8)}${"max".padStart(8)}${"return: median".padStart(18)}${"p95".padStart(8)}${"max".padStart(8)}`);
for (const [key, name] of metrics) {
  if (key === "dialogRaf" && byElementTiming === 0) continue; // the same as "painted"
  console.log(
    name.padEnd(30) + "        " + cell(summary.cold[key]) + "        " + cell(summary.warm[key]) + "          " + cell(summary.return[key]),
  );
}

function longTaskVerdict(mode) {
  const long = loads[mode].reduce((n, m) => n + m.longTasks, 0);
  const loaded = loads[mode].filter((m) => m.longTasks > 0).length;
  return `${mode}: long tasks > ${LONG_TASK_MS} ms: ${long ? `${long} in ${loaded} of ${runs} loads (longest ${summary[mode].longestTask.max} ms)` : "none"}`;
}
function shiftVerdict(mode) {
  const cls = Math.max(...loads[mode].map((m) => m.cls));
  if (!cls) return `${mode}: layout shift: 0`;
  const shifted = loads[mode].filter((m) => m.cls > 0).length;
  const banner = Math.max(...loads[mode].map((m) => m.bannerCls));
  return `${mode}: layout shift: ${cls} (max CLS, in ${shifted} of ${runs} loads; of the banner's own elements: ${banner})`;
}
const verdicts = [];
for (const mode of ["cold", "warm"]) {
  const p95 = summary[mode].dialogPainted.p95;
  verdicts.push(
    `${mode}: visible <= ${TARGET_VISIBLE_MS} ms: ${p95 <= TARGET_VISIBLE_MS ? "yes" : "no"} (p95 ${p95} ms, max ${summary[mode].dialogPainted.max} ms)`,
    longTaskVerdict(mode),
    shiftVerdict(mode),
  );
}
{
  const reopen = loads.return.filter((m) => m.reopenPainted !== null);
  const fixed = reopen.every((m) => m.reopenPosition === "fixed");
  verdicts.push(
    `return: no dialog: yes (${runs} of ${runs} loads)`,
    `return: reopen button: ${reopen.length ? `${reopen.length} of ${runs} loads, position ${fixed ? "fixed" : "NOT fixed"}` : "not seen"}`,
    longTaskVerdict("return"),
    shiftVerdict("return"),
  );
}
const problems = Object.values(loads)
  .flat()
  .flatMap((m) => [...m.csp, ...m.errors]);
const unsupported = [...new Set(Object.values(loads).flat().flatMap((m) => m.unsupported))];
const coldCheck =
  cacheMode !== "cdp"
    ? "cold: a fresh profile per load"
    : [...loads.cold, ...loads.warm].some((m) => m.wasmTransferSize === null)
    ? "banner_bg.wasm not seen in resource timing: cache state not checked"
    : loads.cold.every((m) => m.wasmTransferSize > 0) && loads.warm.every((m) => m.wasmTransferSize === 0)
      ? "cold loads fetched banner_bg.wasm from the network, warm ones from the cache"
      : `WARNING: cache state not as intended (wasm transfer sizes cold ${loads.cold.map((m) => m.wasmTransferSize)}, warm ${loads.warm.map((m) => m.wasmTransferSize)})`;
const paintedBy =
  byElementTiming === 0
    ? "the rAF + MessageChannel estimate (no Element Timing entry for consent-banner)"
    : byElementTiming === firstVisits.length
      ? "Element Timing's renderTime of consent-banner"
      : `Element Timing's renderTime of consent-banner in ${byElementTiming} of ${firstVisits.length} loads, else the rAF + MessageChannel estimate`;
console.log(`\n"painted" = ${paintedBy}; ${coldCheck}`);
// Where the time goes: the median start and end of each request on the way to the dialog.
// (The first visit's part, then the full banner, which is asked for once the dialog is painted; a build
// from before the first visit's part has no first.js: its entries show as "-".)
const chain = ["/banner/banner.js", "/banner/first.js", "/banner/first_bg.wasm", "/v1/policy/banner/en", "/banner/banner.css", "/banner/banner_bg.wasm"];
const waterfall = {};
for (const mode of ["cold", "warm"]) {
  const median = (xs) => stats(xs)?.median ?? "-";
  waterfall[mode] = chain.map((name) => {
    const rs = loads[mode].map((m) => m.resources.find((r) => r.name.endsWith(name))).filter(Boolean);
    return { name, start: median(rs.map((r) => r.start)), end: median(rs.map((r) => r.end)) };
  });
  console.log(
    `${mode} medians (ms): ` +
      waterfall[mode].map((r) => `${r.name.includes("/v1/") ? "policy view" : r.name.split("/").pop()} ${r.start}-${r.end}`).join(", ") +
      `, dialog inserted ${summary[mode].dialogInserted.median}, painted ${summary[mode].dialogPainted.median}`,
  );
}
// --steps: when each step of a visit's chain happened, medians in ms from navigation start, and the
// three durations inside first() (first visits; on a return visit the part is visit.js, and what it
// leads to is the granted inline script running).
let stepsSummary;
if (steps) {
  const rows = [
    ["boot", "banner.js starts running", (s) => s.boot],
    ["domContentLoaded", "DOMContentLoaded", (s, m) => m.domContentLoaded],
    ["partArrived", "the part's last file arrived (first: glue, wasm, view, css)", (s, m, mode) =>
      Math.max(...(mode === "return" ? ["/banner/visit.js", "/banner/visit_bg.wasm"]
        : ["/banner/first.js", "/banner/first_bg.wasm", "/v1/policy/banner/", "/banner/banner.css"])
        .map((n) => m.resources.find((r) => r.name.includes(n))?.end ?? NaN))],
    ["fcp", "the page's first paint (FCP)", (s, m) => m.fcp],
    ["glue", "the part's glue imported", (s) => s.glue],
    ["wasm", "the part's wasm compiled", (s) => s.wasm],
    ["first", "first() called", (s) => s.first],
    ["firstEnd", "first() returned (dialog inserted and shown)", (s) => s.firstEnd],
    ["painted", "dialog painted", (s, m) => m.dialogPainted],
    ["granted", "the granted inline script ran (a return visit)", (s, m, mode) => (mode === "return" ? m.granted : NaN)],
    ["load", "the load event", (s, m) => m.loadEvent],
    ["dom", "first(): its layer written (ms)", (s) => s.showModal - s.first],
    ["showModal", "first(): showModal(), style and layout (ms)", (s) => s.shown - s.showModal],
    ["firstTotal", "first() in all (ms)", (s) => s.firstEnd - s.first],
  ];
  stepsSummary = {};
  const modes = ["cold", "warm", "return"];
  console.log(`\neach visit's steps (--steps), medians in ms from navigation start:`.padEnd(76) + modes.map((x) => x.padStart(8)).join(""));
  for (const [key, label, f] of rows) {
    const m = Object.fromEntries(modes.map((mode) => [mode, stats(loads[mode].map((l) => {
      const v = f(l.steps ?? {}, l, mode);
      return Number.isFinite(v) ? v : null;
    }))?.median ?? null]));
    stepsSummary[key] = m;
    console.log(label.padEnd(76) + modes.map((mode) => `${m[mode] ?? "-"}`.padStart(8)).join(""));
  }
}
// --trace: where the main thread's time went, medians of the loads whose trace had it all.
let mainThreadSummary;
if (trace) {
  const parts = [
    ["script", "the banner's JS and wasm (evaluation, callbacks)"],
    ["wasmCompile", "wasm compilation"],
    ["styleLayout", "style and layout"],
    ["paint", "paint"],
    ["other", "other tasks (the page's parsing, loading)"],
    ["idle", "idle (waiting for the network)"],
  ];
  mainThreadSummary = {};
  // With --compare, cookieconsent's loads too (from its module script running to its dialog's paint).
  const columns = [
    ["cold", loads.cold],
    ["warm", loads.warm],
    ...(compare ? [["cookieconsent cold", reference.cold], ["cookieconsent warm", reference.warm]] : []),
  ];
  for (const [name, list] of columns) {
    const traced = list.map((m) => m.mainThread).filter(Boolean);
    mainThreadSummary[name] = { loads: traced.length };
    for (const [key] of [["from"], ...parts]) mainThreadSummary[name][key] = stats(traced.map((t) => t[key]))?.median ?? null;
  }
  const width = (name) => Math.max(8, name.length + 2);
  console.log(
    `\nmain thread from the banner's script running to its dialog's paint, medians in ms (tracing slows every load):\n` +
      "".padEnd(52) +
      columns.map(([name]) => name.padStart(width(name))).join(""),
  );
  for (const [key, name] of [["from", "the script runs at (ms from navigation start)"], ...parts, ["loads", "traced loads"]]) {
    console.log(name.padEnd(52) + columns.map(([col]) => `${mainThreadSummary[col][key] ?? "-"}`.padStart(width(col))).join(""));
  }
}
// --compare: the same figures for cookieconsent, and the first paint of the page without a banner.
let referenceSummary;
if (compare) {
  let version = "?";
  try {
    version = JSON.parse(fs.readFileSync(path.join(compare, "..", "package.json"), "utf8")).version;
  } catch {}
  const of = (list, key) => stats(list.map((m) => m[key]));
  referenceSummary = {
    cookieconsent: {
      version,
      cold: { dialogPainted: of(reference.cold, "dialogPainted"), fcp: of(reference.cold, "fcp"), afterFcp: of(reference.cold, "afterFcp") },
      warm: { dialogPainted: of(reference.warm, "dialogPainted"), fcp: of(reference.warm, "fcp"), afterFcp: of(reference.warm, "afterFcp") },
    },
    noBanner: { fcp: of(reference.plain, "fcp") },
  };
  const c = referenceSummary.cookieconsent;
  console.log(`\nreference, the same page in loads interleaved with the above:${"cold: median".padStart(16)}${"p95".padStart(8)}${"max".padStart(8)}${"warm: median".padStart(16)}${"p95".padStart(8)}${"max".padStart(8)}`);
  for (const [name, cold, warm] of [
    [`cookieconsent ${version}: dialog painted (ms)`, c.cold.dialogPainted, c.warm.dialogPainted],
    [`cookieconsent ${version}: page FCP (ms)`, c.cold.fcp, c.warm.fcp],
    [`cookieconsent ${version}: after page FCP (ms)`, c.cold.afterFcp, c.warm.afterFcp],
    ["no banner: page FCP (ms)", null, referenceSummary.noBanner.fcp],
  ]) {
    console.log(name.padEnd(62) + "        " + cell(cold) + "        " + cell(warm));
  }
  // "Accept all", clicked on each warm load of both (issue 18.4: INP under 50 ms, granted scripts within
  // 5 ms of the click).
  const clicks = (list) => {
    const c = list.map((m) => m.click).filter(Boolean);
    const inps = c.map((x) => x.inp).filter((x) => x !== null);
    return {
      clicks: c.length,
      toPaint: stats(c.map((x) => x.toPaint)),
      inputDelay: stats(c.map((x) => x.inputDelay)),
      inp: inps.length ? stats(inps) : null,
      inpReported: inps.length,
      granted: stats(c.map((x) => x.granted).filter((x) => x !== null)),
      grantedRan: c.filter((x) => x.granted !== null).length,
    };
  };
  referenceSummary.acceptAll = { ours: clicks(loads.warm), cookieconsent: clicks(reference.warm) };
  console.log(`\n"Accept all", clicked on each warm load (ms from the click)${"median".padStart(20)}${"p95".padStart(8)}${"max".padStart(8)}`);
  for (const [who, k] of [["this banner", "ours"], [`cookieconsent ${version}`, "cookieconsent"]]) {
    const a = referenceSummary.acceptAll[k];
    console.log(`${who}: to the next paint (rAF estimate)`.padEnd(70) + cell(a.toPaint));
    console.log(`${who}: input delay (to the first click listener)`.padEnd(70) + cell(a.inputDelay));
    console.log(`${who}: INP, Event Timing (${a.inpReported} of ${a.clicks} reported; the rest < 16)`.padEnd(70) + cell(a.inp));
    console.log(`${who}: granted inline script ran (${a.grantedRan} of ${a.clicks})`.padEnd(70) + cell(a.granted));
  }
  // Return visits (issue 18.3): when the granted inline script ran, from navigation start and after the
  // page's DOMContentLoaded (both banners run granted scripts only once the page is parsed).
  const afterDcl = (list) => list.map((m) => (m.granted !== null && m.domContentLoaded !== null ? m.granted - m.domContentLoaded : null));
  referenceSummary.returnVisit = {
    ours: { granted: stats(loads.return.map((m) => m.granted)), afterDomContentLoaded: stats(afterDcl(loads.return)) },
    cookieconsent: { granted: stats(reference.return.map((m) => m.granted)), afterDomContentLoaded: stats(afterDcl(reference.return)) },
  };
  console.log(`\nReturn visits, the granted inline script ran (ms)${"median".padStart(29)}${"p95".padStart(8)}${"max".padStart(8)}`);
  for (const [who, k] of [["this banner", "ours"], [`cookieconsent ${version}`, "cookieconsent"]]) {
    const r = referenceSummary.returnVisit[k];
    console.log(`${who}: from navigation start`.padEnd(70) + cell(r.granted));
    console.log(`${who}: after DOMContentLoaded`.padEnd(70) + cell(r.afterDomContentLoaded));
  }
  {
    const [ours, theirs] = [referenceSummary.returnVisit.ours.granted, referenceSummary.returnVisit.cookieconsent.granted];
    verdicts.push(
      `return: granted scripts sooner than cookieconsent's: ${ours && theirs && ours.median < theirs.median ? "yes" : "no"} ` +
        `(median ${ours?.median ?? "-"} vs ${theirs?.median ?? "-"} ms, p95 ${ours?.p95 ?? "-"} vs ${theirs?.p95 ?? "-"})`,
    );
  }
  const a = referenceSummary.acceptAll.ours;
  const worstInp = Math.max(a.toPaint?.max ?? 0, a.inp?.max ?? 0);
  verdicts.push(
    `accept all: INP < 50 ms: ${worstInp < 50 ? "met" : "NOT met"} (slowest ${worstInp} ms); ` +
      `granted scripts within 5 ms of the click: ${a.granted && a.granted.max <= 5 && a.grantedRan === a.clicks ? "met" : "NOT met"} ` +
      `(${a.granted ? `median ${a.granted.median}, max ${a.granted.max}` : "never ran"}; ${a.grantedRan} of ${a.clicks})`,
  );
}
// --preload: a preload that is not used shows as a second request for the same file.
if (preload) {
  const twice = (name) => [...loads.cold, ...loads.warm].filter((m) => m.resources.filter((r) => r.name.endsWith(name)).length > 1).length;
  const used = ["first.js", "first_bg.wasm", "/v1/policy/banner/en", "banner.css"].map((name) => `${name.split("/").pop()} ${twice(name) ? `NOT used in ${twice(name)} loads` : "used"}`);
  verdicts.unshift(`preload hints: ${used.join(", ")}`);
}
if (unsupported.length) console.log(`not supported by this browser: ${unsupported.join(", ")}`);
if (problems.length) console.log(`page problems (CSP violations, errors): ${[...new Set(problems)].join("; ")}`);
for (const v of verdicts) console.log(v);

fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(
  out,
  JSON.stringify(
    {
      build,
      chromium,
      date: new Date().toISOString(),
      host: { cpus: os.cpus().length, model: os.cpus()[0]?.model, loadavg },
      runs,
      reducedMotion,
      cacheMode,
      paintedBy: sources,
      targets: { visibleMs: TARGET_VISIBLE_MS, longTaskMs: LONG_TASK_MS, cls: 0 },
      summary,
      waterfall,
      reference: referenceSummary,
      mainThread: mainThreadSummary,
      steps: stepsSummary,
      verdicts,
      problems,
      loads,
    },
    null,
    1,
  ) + "\n",
);
console.log(`wrote ${out}`);
