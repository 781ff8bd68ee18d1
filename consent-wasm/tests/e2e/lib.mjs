// Helpers shared by the browser scripts of this directory (banner-e2e.mjs, banner-speed.mjs): free ports,
// polling, child processes, the real consent-server with a throwaway database and keys, a static web
// server, and a WebDriver client for chromedriver (plain HTTP with Node's own fetch, no npm packages).

import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import path from "node:path";

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Named checks, printed as `ok   …` / `FAIL …: detail`, counted for the summary line and exit code. */
export class Checks {
  constructor(prefix = "") {
    this.prefix = prefix;
    this.passed = 0;
    this.failed = 0;
  }

  check(name, ok, detail = "") {
    if (ok) {
      this.passed++;
      console.log(`ok   ${this.prefix}${name}`);
    } else {
      this.failed++;
      console.log(`FAIL ${this.prefix}${name}${detail ? ": " + detail : ""}`);
    }
  }

  /** Prints `<prefix><passed> passed, <failed> failed` and exits with 1 if anything failed. */
  finish() {
    console.log(`${this.prefix}${this.passed} passed, ${this.failed} failed`);
    process.exit(this.failed ? 1 : 0);
  }
}

/** A TCP port that was free a moment ago, on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Polls `probe` every 50 ms until it returns something truthy (errors count as not yet). */
export async function waitFor(what, probe, ms = 10000) {
  const end = Date.now() + ms;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

// Every process started here, so that the caller can end them all in its `finally`.
const children = [];

export function spawnChild(command, args, options) {
  const child = spawn(command, args, options);
  children.push(child);
  return child;
}

/** Sends SIGTERM to every child started through `spawnChild` that is still running. */
export function killChildren() {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
}

// Also when the script dies on an uncaught error or is interrupted: no server or chromedriver left behind.
process.on("exit", killChildren);
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => process.exit(130));

/**
 * The real consent-server (`serve`) on `port`, with its database and keys in `work` and `corsOrigin`
 * (the test site) allowed. `start` waits for /readyz; `stop` waits for the process to exit.
 */
export class ConsentServer {
  constructor(bin, work, port, corsOrigin) {
    this.bin = bin;
    this.endpoint = `http://127.0.0.1:${port}`;
    this.env = {
      ...process.env,
      CONSENT_LISTEN: `127.0.0.1:${port}`,
      CONSENT_DATABASE: path.join(work, "consent.db"),
      CONSENT_KEYS: path.join(work, "consent-keys.json"),
      CONSENT_ISSUER: this.endpoint,
      CONSENT_CORS_ORIGINS: corsOrigin,
      CONSENT_LOG: "error",
    };
  }

  async start() {
    this.process = spawnChild(this.bin, ["serve"], { env: this.env, stdio: ["ignore", "ignore", "inherit"] });
    await waitFor("consent-server", async () => (await fetch(`${this.endpoint}/readyz`)).ok);
  }

  async stop() {
    const exited = new Promise((r) => this.process.once("exit", r));
    this.process.kill("SIGTERM");
    await exited;
  }

  /** The payloads of every receipt stored so far (`consent-server export`), oldest first. */
  receipts() {
    return execFileSync(this.bin, ["export", "--format", "jsonl"], {
      env: this.env,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    })
      .split("\n")
      .filter(Boolean)
      .map((line) => {
        const jws = JSON.parse(line).receipt;
        return JSON.parse(Buffer.from(jws.split(".")[1], "base64url").toString("utf8"));
      });
  }
}

export const contentTypes = {
  html: "text/html",
  js: "text/javascript",
  mjs: "text/javascript",
  wasm: "application/wasm",
  css: "text/css",
  svg: "image/svg+xml",
};

/** The files of a banner build (scripts/build-banner): the bootstrap, the first visit's part, the return
 * visit's first part, the full banner and the stylesheet. */
export const BUILD_FILES = ["banner.js", "first.js", "first_bg.wasm", "visit.js", "visit_bg.wasm", "full.js", "banner_bg.wasm", "banner.css"];

/** Reads the files of a banner build from `bannerDir` as `files` entries under `prefix` (a build from
 * before issue 18.3's split, which banner-speed can compare with, has banner.js, banner_bg.wasm and
 * banner.css only; one from before issue 18.2's first visit part has no first.js, first_bg.wasm). */
export function bannerFiles(bannerDir, prefix = "/banner/") {
  const files = {};
  for (const f of BUILD_FILES.filter((f) => fs.existsSync(path.join(bannerDir, f)))) {
    files[`${prefix}${f}`] = [contentTypes[f.split(".").pop()], fs.readFileSync(path.join(bannerDir, f))];
  }
  return files;
}

/**
 * A static web server on 127.0.0.1:`port`: `files` maps a URL path to `[content type, body]` or
 * `[content type, body, extra headers]`; every answer carries `headers` (e.g. the CSP). Anything else is a
 * 404. Resolves to the listening `http.Server`.
 */
export async function staticSite(port, files, headers = {}) {
  const web = http.createServer((req, res) => {
    const file = files[req.url];
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": file[0], ...headers, ...(file[2] || {}) });
    // A function writes the body itself (a page sent in parts, or one that depends on the request).
    if (typeof file[1] === "function") file[1](res, req);
    else res.end(file[1]);
  });
  await new Promise((r) => web.listen(port, "127.0.0.1", r));
  return web;
}

/** The Chromium flags of consent-wasm/webdriver.json (what wasm-bindgen-test uses too). */
export function chromiumArgs() {
  return JSON.parse(fs.readFileSync(new URL("../../webdriver.json", import.meta.url)))["goog:chromeOptions"].args;
}

/** chromedriver (CHROMEDRIVER, else /usr/bin/chromedriver) on `port`, started and answering /status. */
export async function startChromedriver(port) {
  const chromedriver = process.env.CHROMEDRIVER || "/usr/bin/chromedriver";
  spawnChild(chromedriver, [`--port=${port}`], { stdio: "ignore" });
  await waitFor("chromedriver", async () => (await fetch(`http://127.0.0.1:${port}/status`)).ok);
  return new WebDriver(port);
}

/** A W3C WebDriver client: one request is one fetch; an error answer throws `<url>: <message>`. */
export class WebDriver {
  constructor(port) {
    this.base = `http://127.0.0.1:${port}`;
  }

  async request(method, url, body) {
    const r = await fetch(`${this.base}${url}`, {
      method,
      headers: { "content-type": "application/json" },
      body: body && JSON.stringify(body),
    });
    const j = await r.json();
    if (j.value && j.value.error) throw new Error(`${url}: ${j.value.message}`);
    return j.value;
  }

  /** A new Chromium session with `args` (the flags, including its own --user-data-dir); `chromeOptions`
   * and `capabilities` add to what is asked for (a trace: `perfLoggingPrefs`, `goog:loggingPrefs`). */
  async session(args, { chromeOptions = {}, capabilities: more = {} } = {}) {
    const { sessionId, capabilities } = await this.request("POST", "/session", {
      capabilities: { alwaysMatch: { "goog:chromeOptions": { args, ...chromeOptions }, ...more } },
    });
    return new Session(this, sessionId, capabilities);
  }
}

export class Session {
  constructor(driver, id, capabilities = {}) {
    this.driver = driver;
    this.id = id;
    this.capabilities = capabilities;
  }

  request(method, url, body) {
    return this.driver.request(method, `/session/${this.id}${url}`, body);
  }

  /** Runs `script` (a function body) in the page and returns its result. */
  js(script, ...args) {
    return this.request("POST", "/execute/sync", { script, args });
  }

  /** Navigates and waits for the page to load (WebDriver's default page load strategy). */
  open(url) {
    return this.request("POST", "/url", { url });
  }

  /** A Chrome DevTools Protocol command through chromedriver's `goog/cdp/execute`. */
  cdp(cmd, params = {}) {
    return this.request("POST", "/goog/cdp/execute", { cmd, params });
  }

  close() {
    return this.driver.request("DELETE", `/session/${this.id}`);
  }
}
