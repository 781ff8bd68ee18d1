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
//
// This file runs the loads (the sessions, the load loop, the click on "Accept all") and writes the JSON;
// speed-args.mjs parses the command line, speed-page.mjs holds the page, its files and the probe,
// speed-stats.mjs the figures (pure functions), speed-report.mjs the printed report.

import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  ConsentServer,
  chromiumArgs,
  freePort,
  killChildren,
  sleep,
  startChromedriver,
  staticSite,
  waitFor,
} from "./lib.mjs";
import { USAGE, parseArgs } from "./speed-args.mjs";
import { contentSecurityPolicy, cookieconsentVersion, siteFiles, snapshot } from "./speed-page.mjs";
import { progress, report } from "./speed-report.mjs";
import { LONG_TASK_MS, TARGET_VISIBLE_MS, mainThread, round, summarize } from "./speed-stats.mjs";

const options = parseArgs(process.argv.slice(2));
if (!options) {
  console.error(USAGE);
  process.exit(2);
}
const { serverBin, bannerDir, work, runs, out, reducedMotion, compare, trace, steps, preload, asyncTag, highPriority } = options;

const SETTLE_MS = 500; // after the dialog (or the reopen button) is painted, to catch late tasks and shifts

const serverPort = await freePort();
const sitePort = await freePort();
const driverPort = await freePort();
const site = `http://127.0.0.1:${sitePort}`;
const server = new ConsentServer(serverBin, work, serverPort, site);
const endpoint = server.endpoint;

const files = siteFiles({ endpoint, bannerDir, compare, preload, asyncTag, highPriority, steps });
// The build is the SHA-256 of the wasm (what build.sha256 holds).
const build = crypto.createHash("sha256").update(files["/banner/banner_bg.wasm"][1]).digest("hex");
const web = await staticSite(sitePort, files, { "content-security-policy": contentSecurityPolicy(endpoint) });

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
  if (trace) m.mainThread = mainThread(await traceEvents(s), `${site}${url}`, m.dialogPainted);
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

const { sources, summary, waterfall, referenceSummary, mainThreadSummary, stepsSummary, verdicts, problems } = report(
  loads,
  reference,
  { runs, cacheMode, compare, version: compare ? cookieconsentVersion(compare) : undefined, trace, steps, preload },
);

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
