// An experiment, not a test (nothing runs it; consent-wasm/README.md#speed and DESIGN.md cite it): can a
// page hold its first frame until a script's asynchronous work is done, as a banner whose first layer
// needs fetched files would need? Headless Chromium through chromedriver loads four small pages, each
// with a module script that awaits 300 ms (a top-level `await`, standing for the part's and the words'
// fetches), then adds an element:
//   plain      no script: the page's own first paint;
//   module     <script type="module"> with the await;
//   blocking   the same script with blocking="render";
//   expect     <link rel="expect" href="#late" blocking="render"> for the element the script adds, and
//              the module without blocking.
// For each it reports the medians of the page's first contentful paint and of the moment the element was
// added. If the first paint came after the element, the page could hold its first frame for the banner.
// Usage: node render-blocking.mjs [loads]   (default 5 of each, interleaved)
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromiumArgs, freePort, killChildren, sleep, startChromedriver, staticSite } from "./lib.mjs";

const loads = Number(process.argv[2] || 5);
const probe = `<script>window.__fcp=null;new PerformanceObserver((l)=>{for(const e of l.getEntries())if(e.name=="first-contentful-paint")window.__fcp=e.startTime}).observe({type:"paint",buffered:true});</script>`;
const page = (head) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8">${probe}${head}</head><body><h1>A page</h1><p>Its text.</p></body></html>`;
const pages = {
  plain: page(""),
  module: page(`<script type="module" src="/late.js"></script>`),
  blocking: page(`<script type="module" blocking="render" src="/late.js"></script>`),
  expect: page(`<link rel="expect" href="#late" blocking="render"><script type="module" src="/late.js"></script>`),
};
const files = {
  "/late.js": ["text/javascript",
    `await new Promise((r)=>setTimeout(r,300));const p=document.createElement("p");p.id="late";p.textContent="late";document.body.append(p);window.__late=performance.now();`],
};
for (const [name, html] of Object.entries(pages)) files[`/${name}`] = ["text/html", html, { "cache-control": "no-store" }];
const site = await freePort();
await staticSite(site, files);
const driver = await startChromedriver(await freePort());
const profile = fs.mkdtempSync(path.join(os.tmpdir(), "render-blocking-"));
const session = await driver.session([...chromiumArgs(), `--user-data-dir=${profile}`]);
const seen = Object.fromEntries(Object.keys(pages).map((n) => [n, { fcp: [], late: [] }]));
try {
  for (let i = 0; i < loads; i++) {
    for (const name of Object.keys(pages)) {
      await session.open(`http://127.0.0.1:${site}/${name}`);
      await sleep(500);
      const r = await session.js(`return { fcp: window.__fcp, late: window.__late ?? null }`);
      seen[name].fcp.push(r.fcp);
      if (r.late !== null) seen[name].late.push(r.late);
    }
  }
} finally {
  await session.close().catch(() => {});
  killChildren();
  fs.rmSync(profile, { recursive: true, force: true });
}
const median = (xs) => {
  if (!xs.length) return "-";
  const s = [...xs].sort((a, b) => a - b);
  return (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2).toFixed(1);
};
console.log(`render blocking, ${loads} loads each, medians in ms from navigation start`);
console.log("page".padEnd(10) + "first paint".padStart(13) + "element added".padStart(15) + "   first paint after the element?");
for (const [name, s] of Object.entries(seen)) {
  const after = s.late.length ? (Number(median(s.fcp)) >= Number(median(s.late)) ? "yes" : "no") : "-";
  console.log(name.padEnd(10) + median(s.fcp).padStart(13) + median(s.late).padStart(15) + `   ${after}`);
}
process.exit(0);
