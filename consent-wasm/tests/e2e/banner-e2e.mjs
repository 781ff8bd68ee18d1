// End-to-end check of the built banner (target/banner) against the real consent-server, in headless
// Chromium driven through chromedriver (WebDriver over HTTP: Node's own fetch, no npm packages).
//
// The page is served with a strict Content-Security-Policy (no 'unsafe-inline', no 'unsafe-eval', only
// 'wasm-unsafe-eval'); the banner talks to the server with the browser's real fetch (CORS). Checked:
// the dialog, nothing before a choice, a custom choice recorded as a receipt that names the banner build,
// the token cookie, the return visit, the device's second choice sent with its token (and the server
// refusing the device to anyone without it), a choice made while the server is down and sent on the next
// page load, from two tabs, recorded once (its Idempotency-Key), no CSP violation and no unhandled error.
//
// Usage (scripts/e2e-banner does this): node banner-e2e.mjs <consent-server binary> <banner dir> <work dir>

import fs from "node:fs";
import path from "node:path";
import {
  Checks,
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

const [serverBin, bannerDir, work] = process.argv.slice(2);
if (!work) {
  console.error("usage: node banner-e2e.mjs <consent-server binary> <banner dir> <work dir>");
  process.exit(2);
}
const checks = new Checks();
const check = (name, ok, detail) => checks.check(name, ok, detail);

const serverPort = await freePort();
const sitePort = await freePort();
const driverPort = await freePort();
const site = `http://127.0.0.1:${sitePort}`;
const server = new ConsentServer(serverBin, work, serverPort, site);
const endpoint = server.endpoint;

// The website: the banner's three files, two blocked scripts, a probe that records CSP violations and
// unhandled errors (an external classic script, so it runs before the module and is allowed by the CSP).
const page = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>e2e</title>
<script src="/probe.js"></script>
<script type="module" src="/banner/banner.js" data-endpoint="${endpoint}" data-policy-version="2025-03-26"></script>
</head><body><h1>invisionu.education</h1>
<script type="text/plain" data-consent="cookies-analytics" data-src="/analytics.js"></script>
<script type="text/plain" data-consent="cookies-marketing" data-src="/marketing.js"></script>
</body></html>`;
// The same page with an `async` banner.js and a body that comes 1.5 s after the head: the banner is
// loaded and instantiated while the page is still being parsed, and must wait for it (the blocked
// scripts are in the body).
const [asyncHead, asyncBody] = page
  .replace('<script type="module" src=', '<script type="module" async src=')
  .split("</head>");
const files = {
  "/": ["text/html", page],
  "/async": [
    "text/html",
    (res) => {
      res.write(asyncHead + "</head>");
      setTimeout(() => res.end(asyncBody), 1500);
    },
  ],
  // A page that links the banner's stylesheet itself and tells the banner so (`data-css="none"`).
  "/own-css": [
    "text/html",
    page.replace('<script type="module" src=', '<link rel="stylesheet" href="/banner/banner.css">\n<script type="module" data-css="none" src='),
  ],
  // A page published under a later policy version than the token's choice.
  "/newer": ["text/html", page.replace('data-policy-version="2025-03-26"', 'data-policy-version="2026-06-01"')],
  "/probe.js": [
    "text/javascript",
    // (and when the dialog was added to the page, and which element it was: the first visit's part
    // paints it, the full banner must adopt that one)
    `new MutationObserver(() => {
  const d = document.getElementById("consent-banner");
  if (d && !window.__dialog) { window.__dialog = d; window.__dialogAt = performance.now(); }
}).observe(document, { childList: true, subtree: true });
window.__csp = []; window.__errors = [];
document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(e.violatedDirective + " " + e.blockedURI));
window.addEventListener("unhandledrejection", (e) => window.__errors.push(String(e.reason)));
window.addEventListener("error", (e) => window.__errors.push(String(e.message)));`,
  ],
  "/analytics.js": ["text/javascript", `(window.__ran = window.__ran || []).push("analytics");`],
  "/marketing.js": ["text/javascript", `(window.__ran = window.__ran || []).push("marketing");`],
};
Object.assign(files, bannerFiles(bannerDir));
// The full banner held back while `holdFull` is a promise (section 5: the first visit's part answers
// for the dialog until the full banner arrives).
let holdFull = null;
{
  const [type, body] = files["/banner/full.js"];
  files["/banner/full.js"] = [type, (res) => (holdFull || Promise.resolve()).then(() => res.end(body))];
}
const csp = `default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; connect-src 'self' ${endpoint}`;
const web = await staticSite(sitePort, files, { "content-security-policy": csp, "cache-control": "no-store" });

let session;
const js = (script, ...args) => session.js(script, ...args);
const open = (url) => session.open(url);
async function noProblems(stage) {
  const p = await js(`return { csp: window.__csp, errors: window.__errors }`);
  check(`${stage}: no CSP violation, no unhandled error`, p.csp.length === 0 && p.errors.length === 0, JSON.stringify(p));
}
const receipts = () => server.receipts();

try {
  await server.start();
  const driver = await startChromedriver(driverPort);
  session = await driver.session([...chromiumArgs(), `--user-data-dir=${path.join(work, "profile")}`]);
  const build = fs.readFileSync(path.join(bannerDir, "build.sha256"), "utf8").trim();

  // 1. First visit: the dialog, and nothing else.
  await open(`${site}/`);
  const dialog = await waitFor("the dialog", () =>
    js(`const d = document.getElementById("consent-banner");
        return d && { role: d.getAttribute("role"), modal: d.getAttribute("aria-modal"), lang: d.lang,
          title: document.getElementById(d.getAttribute("aria-labelledby")).textContent,
          actions: [...d.querySelectorAll("[data-consent-action]")].map((b) => b.dataset.consentAction),
          focused: d.contains(document.activeElement) || document.activeElement === d, radius: getComputedStyle(d).borderTopLeftRadius }`),
  );
  check("dialog: role=dialog, aria-modal", dialog.role === "dialog" && dialog.modal === "true");
  check("dialog: English title from <html lang>", dialog.title === "Cookies and personal data", dialog.title);
  check("dialog: three actions", dialog.actions.join() === "accept-all,reject-all,choose", dialog.actions.join());
  check("dialog: focus moved in", dialog.focused === true);
  check("dialog: banner.css applied", dialog.radius === "8px", dialog.radius);
  // A first visit loads the first visit's part (the full banner after it: below), never the return
  // visit's part.
  const firstFetched = await js(`return performance.getEntriesByType("resource").map((r) => new URL(r.name).pathname)`);
  check(
    "first visit: the first visit's part fetched, not the return visit's part",
    ["/banner/banner.js", "/banner/first.js", "/banner/first_bg.wasm"].every((f) => firstFetched.includes(f)) &&
      !firstFetched.some((f) => /visit(_bg\.wasm|\.js)$/.test(f)),
    firstFetched.join(),
  );
  const before = await js(`return { ran: window.__ran || [], cookie: document.cookie, stored: localStorage.length }`);
  check("before a choice: no script, cookie or storage", before.ran.length === 0 && before.cookie === "" && before.stored === 0, JSON.stringify(before));
  // Issue 18.2: before the dialog, only the bootstrap, the first visit's part, the stylesheet and the
  // banner view; the full banner is asked for after, and adopts the dialog the part painted.
  await waitFor("the full banner", () => js(`return !!window.consent`));
  const order = await js(`const at = (f) => performance.getEntriesByName(new URL(f, location).href)[0]?.startTime;
    const view = performance.getEntriesByType("resource").find((r) => r.name.includes("/v1/policy/banner/en"));
    return { dialog: window.__dialogAt, first: at("/banner/first.js"), firstWasm: at("/banner/first_bg.wasm"),
      css: at("/banner/banner.css"), view: view && view.startTime, full: at("/banner/full.js"), fullWasm: at("/banner/banner_bg.wasm"),
      adopted: document.getElementById("consent-banner") === window.__dialog && document.querySelectorAll("dialog").length === 1 }`);
  check(
    "first visit: the part, the stylesheet and the view before the dialog; the full banner after it",
    [order.first, order.firstWasm, order.css, order.view].every((t) => t < order.dialog) && order.full > order.dialog && order.fullWasm > order.dialog,
    JSON.stringify(order),
  );
  check("first visit: the full banner adopted the painted dialog (one dialog, the same element)", order.adopted === true, JSON.stringify(order));

  // 2. A custom choice: analytics only.
  await js(`document.querySelector('[data-consent-action="choose"]').click()`);
  await waitFor("the switches", () => js(`return document.querySelectorAll("input[data-purpose]").length === 4`));
  await js(`document.querySelector('input[data-purpose="cookies-analytics"]').click();
            document.querySelector('[data-consent-action="save"]').click()`);
  const cookie = await waitFor("the consent cookie", () => js(`return /(^|; )consent=([\\w-]+)/.exec(document.cookie)?.[2]`));
  check("token cookie stored (base64url, under 180 characters)", /^[\w-]{100,180}$/.test(cookie), cookie);
  const ran = await waitFor("analytics", () => js(`return window.__ran && window.__ran.length && window.__ran`));
  check("the analytics script ran, the marketing one did not", ran.join() === "analytics", ran.join());
  const [receipt] = receipts();
  check("receipt: method custom", receipt.method === "custom", receipt.method);
  check("receipt: names the banner build", receipt.collection?.build === build, JSON.stringify(receipt.collection));
  check("receipt: page without query", receipt.collection?.page === `${site}/`, receipt.collection?.page);
  check(
    "receipt: analytics given, marketing refused",
    receipt.decisions["cookies-analytics"] === "given" && receipt.decisions["cookies-marketing"] === "refused",
    JSON.stringify(receipt.decisions),
  );
  await noProblems("first visit");

  // 3. Return visit: no dialog, the granted script runs at once.
  await open(`${site}/`);
  const again = await waitFor("analytics on the return visit", () => js(`return window.__ran && window.__ran.length && window.__ran`));
  await sleep(300);
  check("return visit: granted script runs", again.join() === "analytics", again.join());
  check("return visit: no dialog", (await js(`return document.getElementById("consent-banner")`)) === null);
  // Only the return visit's part is fetched, parsed and compiled (issue 18.3): the bootstrap, visit.js
  // and visit_bg.wasm; not the full banner, and no policy (what the token's codes mean was kept).
  const fetched = await js(`return performance.getEntriesByType("resource").map((r) => new URL(r.name).pathname)`);
  check(
    "return visit: only the small part fetched (banner.js, visit.js, visit_bg.wasm), no full banner, no policy",
    ["/banner/banner.js", "/banner/visit.js", "/banner/visit_bg.wasm"].every((f) => fetched.includes(f)) &&
      !fetched.some((f) => /full\.js|banner_bg\.wasm|\/v1\//.test(f)),
    fetched.join(),
  );
  const state = await js(`return window.consent.get()`);
  check(
    "return visit: the JS API reads the token's state",
    state.decided && state.granted.join() === "cookies-necessary,cookies-analytics" && state.refused.includes("cookies-marketing") &&
      state.consent_id === receipt.jti && (await js(`return window.consent.allows("cookies-analytics") && !window.consent.allows("cookies-marketing")`)),
    JSON.stringify(state),
  );
  // A listener subscribed now, to the return visit's part, must hear the full banner's choices.
  await js(`window.__changes = []; window.__kept = window.consent;
            window.consent.on("change", (d) => window.__changes.push(d.method))`);
  await noProblems("return visit");

  // 3b. The way back in on another origin: the receipt link downloads the signed receipt (the banner
  //     fetches it with the token: the cookie does not go to the consent server).
  const downloads = path.join(work, "downloads");
  fs.mkdirSync(downloads, { recursive: true });
  await session.cdp("Browser.setDownloadBehavior", { behavior: "allow", downloadPath: downloads });
  await js(`document.querySelector(".consent-reopen").click()`);
  await waitFor("the reopened dialog", () => js(`return !!document.querySelector('#consent-banner [data-consent-action="receipt"]')`));
  const takeover = await js(`return { ran: window.__ran, full: performance.getEntriesByType("resource").some((r) => r.name.endsWith("/banner/banner_bg.wasm")),
    layer: !!document.querySelector('#consent-banner input[data-purpose]'), reopen: document.querySelectorAll(".consent-reopen").length }`);
  check(
    "return visit: the way back in loads the full banner, which opens its dialog; nothing ran twice",
    takeover.full && takeover.layer && takeover.ran.join() === "analytics" && takeover.reopen === 1,
    JSON.stringify(takeover),
  );
  await js(`document.querySelector('#consent-banner [data-consent-action="receipt"]').click()`);
  const file = path.join(downloads, `consent-receipt-${receipt.jti}.json`);
  const saved = await waitFor("the downloaded receipt", async () => fs.existsSync(file) && JSON.parse(fs.readFileSync(file, "utf8")));
  check(
    "the receipt downloads across origins (token sent, JWS and payload saved)",
    saved.receipt_id === receipt.jti && saved.payload?.decisions?.["cookies-analytics"] === "given" && saved.receipt.split(".").length === 3,
    JSON.stringify(saved).slice(0, 200),
  );
  check(
    "the downloaded receipt carries its proof of logging (log index, C2SP tlog-proof@v1)",
    Number.isInteger(saved.log_index) && typeof saved.tlog_proof === "string" && saved.tlog_proof.startsWith("c2sp.org/tlog-proof@v1\n"),
    JSON.stringify({ log_index: saved.log_index, tlog_proof: saved.tlog_proof?.slice(0, 60) }),
  );
  await js(`document.querySelector('#consent-banner [data-consent-action="close"]').click()`);

  // 3c. The device's second choice, across origins: the banner sends the device's token in
  //     X-Consent-Token (CORS allows it), which the server asks for once a device has a choice.
  await js(`document.querySelector(".consent-reopen").click()`);
  await waitFor("the reopened dialog", () => js(`return !!document.querySelector('#consent-banner [data-consent-action="save"]')`));
  await js(`document.querySelector('input[data-purpose="cookies-analytics"]').click();
            document.querySelector('[data-consent-action="save"]').click()`);
  const second = await waitFor("the second receipt", async () => receipts().length === 2 && receipts()[1]);
  check(
    "the device's second choice is recorded: the same device, its token sent",
    second.sub === receipt.sub && second.method === "withdraw",
    `${receipt.sub} ${second.sub} ${second.method}`,
  );
  const heard = await js(`return { changes: window.__changes, same: window.__kept.get() === window.consent.get() }`);
  check(
    "a consent.on listener subscribed to the return visit's part hears the full banner's choice",
    heard.changes.join() === "withdraw" && heard.same,
    JSON.stringify(heard),
  );
  await noProblems("second choice");
  //     Nobody else changes the device: without its token, or with another device's, the server refuses
  //     and writes nothing; with its token (the cookie's) it records.
  const device = receipt.sub.slice("dev:".length);
  const deviceToken = await js(`return /(^|; )consent=([\\w-]+)/.exec(document.cookie)?.[2]`);
  const choose = (headers, subject) =>
    fetch(`${endpoint}/v1/consents`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify({
        policy_version: receipt.policy.version,
        decisions: { "cookies-analytics": "given" },
        method: "custom",
        language: "en",
        collection_point: { kind: "banner" },
        ...(subject && { subject: { device: subject } }),
      }),
    });
  const outcome = async (r) => (r.status === 201 ? "201" : `${r.status} ${(await r.json()).error.code}`);
  const stranger = await (await choose({})).json();
  check("another visitor: a new device", stranger.subject !== receipt.sub && /^dev:/.test(stranger.subject), stranger.subject);
  const without = await outcome(await choose({}, device));
  check("the device without its token: 403 device_token_required", without === "403 device_token_required", without);
  const others = await outcome(await choose({ "x-consent-token": stranger.token }, device));
  check("the device with another device's token: 403 device_token_mismatch", others === "403 device_token_mismatch", others);
  const own = await outcome(await choose({ "x-consent-token": deviceToken }, device));
  check("the device with its own token: 201", own === "201", own);
  check("the refused requests wrote nothing", receipts().length === 4, String(receipts().length));

  // 3d. A command of the JS API on a return visit: the part loads the full banner, which runs it; the
  //     promise resolves once it has, and the scripts it grants run once.
  await open(`${site}/`);
  await waitFor("the return visit's API", () => js(`return !!(window.consent && window.consent.get())`));
  const withdrawn = await js(`return { ran: window.__ran || [], full: performance.getEntriesByType("resource").some((r) => r.name.endsWith("/banner/banner_bg.wasm")) }`);
  check(
    "return visit after a withdrawal: nothing optional runs, the full banner not loaded",
    withdrawn.ran.length === 0 && !withdrawn.full,
    JSON.stringify(withdrawn),
  );
  await js(`window.__done = false; window.consent.acceptAll().then(() => { window.__done = true })`);
  const viaApi = await waitFor("the API's choice", async () => receipts().length === 5 && receipts()[4]);
  await waitFor("the command's promise", () => js(`return window.__done`));
  const afterApi = await waitFor("the granted scripts", () => js(`return window.__ran && window.__ran.length === 2 && window.__ran`));
  await sleep(300);
  check(
    "return visit: consent.acceptAll() through the full banner, recorded, both scripts run once",
    viaApi.method === "accept-all" && viaApi.sub === receipt.sub && (await js(`return window.__ran.join()`)) === "analytics,marketing",
    `${viaApi.method} ${afterApi.join()}`,
  );
  await noProblems("API command on a return visit");

  // 3e. A token made under an older policy version than the page's: the return visit's part leaves it
  //     to the full banner, which asks again.
  await open(`${site}/newer`);
  const outdated = await waitFor("the dialog for an outdated choice", () =>
    js(`const d = document.getElementById("consent-banner");
        return d && d.open && { ran: window.__ran || [], full: performance.getEntriesByType("resource").some((r) => r.name.endsWith("/banner/banner_bg.wasm")) }`),
  );
  check(
    "an outdated token: the full banner asks again, nothing optional runs",
    outdated.full && outdated.ran.length === 0,
    JSON.stringify(outdated),
  );
  await noProblems("outdated token");

  // 4. The server goes down after the dialog is shown: the choice applies, is kept, and is sent on the
  //    next page load once the server is back.
  await js(`document.cookie = "consent=; path=/; max-age=0"`);
  await open(`${site}/`);
  await waitFor("the dialog", () => js(`return !!document.getElementById("consent-banner")`));
  await server.stop();
  await js(`document.querySelector('[data-consent-action="accept-all"]').click()`);
  const kept = await waitFor("the pending choice", () => js(`return localStorage.getItem("consent-pending")`));
  const offline = await waitFor("both scripts", () => js(`return window.__ran && window.__ran.length === 2 && window.__ran`));
  check("server down: the choice applies at once", offline.join() === "analytics,marketing", offline.join());
  check("server down: kept for later, no cookie", JSON.parse(kept).request.method === "accept-all" && !(await js(`return document.cookie`)).includes("consent="));
  await noProblems("server down");
  //    A second tab, opened while the server is down, takes up the same kept choice (with its
  //    Idempotency-Key) and tries to send it too. Once the server is back, both tabs send it until one
  //    is answered: it is recorded once.
  const firstTab = await session.request("GET", "/window");
  const { handle: secondTab } = await session.request("POST", "/window/new", { type: "tab" });
  await session.request("POST", "/window", { handle: secondTab });
  await open(`${site}/`);
  const keyInTab2 = await waitFor("the second tab's pending choice", () =>
    js(`return window.consent && window.consent.get().pending && JSON.parse(localStorage.getItem("consent-pending")).key`),
  );
  check("two tabs: the kept choice has one idempotency key (a UUID)", /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(keyInTab2), keyInTab2);
  await server.start();
  await open(`${site}/`);
  await waitFor("the cookie after the retry", () => js(`return document.cookie.includes("consent=")`));
  await waitFor("the pending entry to go", () => js(`return localStorage.getItem("consent-pending") === null`));
  await session.request("POST", "/window", { handle: firstTab });
  await waitFor("the first tab to let go", () => js(`return window.consent.get().pending === false`), 15000);
  await sleep(500);
  const all = receipts();
  check("retry from two tabs: recorded once, accept-all", all.length === 6 && all[5].method === "accept-all", all.map((r) => r.method).join());
  await session.request("DELETE", "/window");
  await session.request("POST", "/window", { handle: secondTab });
  check("retry: no dialog", (await js(`return document.getElementById("consent-banner")`)) === null);

  // An `async` banner.js that arrives before the body: it waits for the page, then activates.
  await open(`${site}/async`);
  const asyncRan = await waitFor("the scripts of the slow page", () =>
    js(`return document.readyState === "complete" && window.__ran && window.__ran.length === 2 && window.__ran`),
  );
  check("async banner.js before the body: the body's granted scripts run", asyncRan.join() === "analytics,marketing", asyncRan.join());
  check(
    "async banner.js before the body: it ran while the page was loading",
    (await js(`const r = performance.getEntriesByName(new URL("/banner/visit_bg.wasm", location).href)[0];
      return r && r.responseEnd < performance.getEntriesByType("navigation")[0].domInteractive`)) === true,
  );

  await noProblems("retry");

  // 5. The first visit's part answers for the dialog until the full banner arrives (held back here).
  //    a. Escape first (no click on the page yet: Chromium closes a modal dialog without a cancelable
  //       `cancel`): once the full banner is there, the dialog is gone, nothing granted, the way back in.
  const escape = async () => {
    const keys = [{ type: "keyDown", value: "\uE00C" }, { type: "keyUp", value: "\uE00C" }];
    await session.request("POST", "/actions", { actions: [{ type: "key", id: "keyboard", actions: keys }] });
    await session.request("DELETE", "/actions");
  };
  const fresh = async () => {
    await js(`document.cookie = "consent=; path=/; max-age=0"; localStorage.clear()`);
    let release;
    holdFull = new Promise((r) => (release = r));
    await open(`${site}/`);
    await waitFor("the painted dialog", () => js(`const d = document.getElementById("consent-banner"); return !!(d && d.open)`));
    await sleep(200);
    return () => {
      holdFull = null;
      release();
    };
  };
  const before5 = receipts().length;
  let release = await fresh();
  const waiting = await js(`return { api: !!window.consent, open: document.getElementById("consent-banner").open }`);
  check("full banner held back: the first layer is on screen without it", !waiting.api && waiting.open, JSON.stringify(waiting));
  await escape();
  release();
  await waitFor("the way back in", () => js(`return !!document.querySelector(".consent-reopen")`));
  await sleep(300);
  const dismissed = await js(`return { dialog: !!document.getElementById("consent-banner"), ran: window.__ran || [], decided: window.consent.get().decided }`);
  check(
    "Escape before the full banner arrived: no dialog, nothing granted or recorded, the way back in",
    !dismissed.dialog && dismissed.ran.length === 0 && !dismissed.decided && receipts().length === before5,
    JSON.stringify(dismissed),
  );
  //    b. A click on "Reject all", then Escape (which the click made cancelable: it is held back): the
  //       click is recorded once the full banner has adopted the dialog.
  release = await fresh();
  const reject = await session.request("POST", "/element", { using: "css selector", value: '[data-consent-action="reject-all"]' });
  await session.request("POST", `/element/${Object.values(reject)[0]}/click`, {});
  await escape();
  await sleep(200);
  check(
    "full banner held back: the click waits (nothing recorded), Escape leaves the first layer open",
    receipts().length === before5 && (await js(`return document.getElementById("consent-banner").open`)) === true,
  );
  release();
  const early = await waitFor("the early click's receipt", async () => receipts().length === before5 + 1 && receipts()[before5]);
  await waitFor("the dialog closed", () => js(`return !document.getElementById("consent-banner")`));
  await sleep(300);
  check(
    "a click made before the full banner arrived: recorded once, reject-all, the dialog closed, nothing optional ran",
    early.method === "reject-all" && receipts().length === before5 + 1 && (await js(`return window.__ran || []`)).length === 0,
    `${early.method} ${receipts().length - before5}`,
  );
  await noProblems("a click before the full banner");

  // 6. A page with its own link to the stylesheet (`data-css="none"`): the first visit's part paints at
  //    once, styled, and no second stylesheet is added.
  await js(`document.cookie = "consent=; path=/; max-age=0"; localStorage.clear()`);
  await open(`${site}/own-css`);
  const ownCss = await waitFor("the dialog on the page with its own stylesheet", () =>
    js(`const d = document.getElementById("consent-banner");
        return d && d.open && { radius: getComputedStyle(d).borderTopLeftRadius, links: document.querySelectorAll('link[href*="banner.css"]').length }`),
  );
  check("data-css=\"none\": the first layer painted with the page's own stylesheet, none added", ownCss.radius === "8px" && ownCss.links === 1, JSON.stringify(ownCss));
  await noProblems("own stylesheet");
  await session.close();
  session = undefined;
} catch (e) {
  check("the run", false, e.message);
} finally {
  if (session) await session.close().catch(() => {});
  web.close();
  killChildren();
}
checks.finish();
