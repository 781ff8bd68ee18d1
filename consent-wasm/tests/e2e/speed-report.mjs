// banner-speed.mjs's printed report: a line per load as it is measured, then the table of medians, p95
// and max per kind of load, the verdicts, where the time went (requests, --steps, --trace), cookieconsent's
// figures (--compare) and the preload hints' use (--preload). It prints; what it returns is what
// banner-speed.mjs writes to its JSON.

import { LONG_TASK_MS, TARGET_VISIBLE_MS, metrics, stats, summaryOf } from "./speed-stats.mjs";

/** The line of one measured load `m` (`mode`: cold, warm, return; `i`: its index). */
export function progress(mode, i, m) {
  const t = (x) => (x === null ? "-" : String(x));
  const what =
    mode === "return"
      ? `no dialog, reopen button painted ${t(m.reopenPainted)} ms`
      : `dialog inserted ${t(m.dialogInserted)} ms, painted ${t(m.dialogPainted)} ms (${m.paintedBy}), FCP ${t(m.fcp)} ms`;
  console.log(`  ${mode.padEnd(6)} ${String(i + 1).padStart(2)}: ${what}, longest task ${m.longestTask} ms, CLS ${m.cls}`);
}

const cell = (st) => (st ? `${st.median}`.padStart(8) + `${st.p95}`.padStart(8) + `${st.max}`.padStart(8) : "       -       -       -");

/**
 * The report of our `loads` and, with `compare` (cookieconsent's dist directory, `version` its version),
 * cookieconsent's and the bare page's (`reference`): printed, and returned as the JSON's parts. `runs`:
 * loads of each kind; `cacheMode`: how cold loads were made cold; `trace`, `steps`, `preload`: the options.
 */
export function report(loads, reference, { runs, cacheMode, compare, version, trace, steps, preload }) {
  const firstVisits = [...loads.cold, ...loads.warm];
  const sources = [...new Set(firstVisits.map((m) => m.paintedBy))];
  const byElementTiming = firstVisits.filter((m) => m.paintedBy === "element-timing").length;
  const summary = summaryOf(loads);
  printTable(summary, byElementTiming);
  const verdicts = loadVerdicts(loads, summary, runs);
  const problems = Object.values(loads)
    .flat()
    .flatMap((m) => [...m.csp, ...m.errors]);
  const unsupported = [...new Set(Object.values(loads).flat().flatMap((m) => m.unsupported))];
  printPaintedBy(loads, byElementTiming, cacheMode);
  const waterfall = printWaterfall(loads, summary);
  const stepsSummary = steps ? printSteps(loads) : undefined;
  const mainThreadSummary = trace ? printMainThread(loads, reference, compare) : undefined;
  let referenceSummary;
  if (compare) {
    referenceSummary = printReference(loads, reference, version);
    verdicts.push(...referenceVerdicts(referenceSummary));
  }
  if (preload) verdicts.unshift(preloadVerdict(loads));
  if (unsupported.length) console.log(`not supported by this browser: ${unsupported.join(", ")}`);
  if (problems.length) console.log(`page problems (CSP violations, errors): ${[...new Set(problems)].join("; ")}`);
  for (const v of verdicts) console.log(v);
  return { sources, summary, waterfall, referenceSummary, mainThreadSummary, stepsSummary, verdicts, problems };
}

// The table: each metric's median, p95 and max, cold, warm and on return visits.
function printTable(summary, byElementTiming) {
  console.log(`\n${"".padEnd(30)}${"cold: median".padStart(16)}${"p95".padStart(8)}${"max".padStart(8)}${"warm: median".padStart(16)}${"p95".padStart(8)}${"max".padStart(8)}${"return: median".padStart(18)}${"p95".padStart(8)}${"max".padStart(8)}`);
  for (const [key, name] of metrics) {
    if (key === "dialogRaf" && byElementTiming === 0) continue; // the same as "painted"
    console.log(
      name.padEnd(30) + "        " + cell(summary.cold[key]) + "        " + cell(summary.warm[key]) + "          " + cell(summary.return[key]),
    );
  }
}

function longTaskVerdict(loads, summary, runs, mode) {
  const long = loads[mode].reduce((n, m) => n + m.longTasks, 0);
  const loaded = loads[mode].filter((m) => m.longTasks > 0).length;
  return `${mode}: long tasks > ${LONG_TASK_MS} ms: ${long ? `${long} in ${loaded} of ${runs} loads (longest ${summary[mode].longestTask.max} ms)` : "none"}`;
}
function shiftVerdict(loads, runs, mode) {
  const cls = Math.max(...loads[mode].map((m) => m.cls));
  if (!cls) return `${mode}: layout shift: 0`;
  const shifted = loads[mode].filter((m) => m.cls > 0).length;
  const banner = Math.max(...loads[mode].map((m) => m.bannerCls));
  return `${mode}: layout shift: ${cls} (max CLS, in ${shifted} of ${runs} loads; of the banner's own elements: ${banner})`;
}

// The verdicts on the targets of first visits (cold, warm) and return visits.
function loadVerdicts(loads, summary, runs) {
  const verdicts = [];
  for (const mode of ["cold", "warm"]) {
    const p95 = summary[mode].dialogPainted.p95;
    verdicts.push(
      `${mode}: visible <= ${TARGET_VISIBLE_MS} ms: ${p95 <= TARGET_VISIBLE_MS ? "yes" : "no"} (p95 ${p95} ms, max ${summary[mode].dialogPainted.max} ms)`,
      longTaskVerdict(loads, summary, runs, mode),
      shiftVerdict(loads, runs, mode),
    );
  }
  {
    const reopen = loads.return.filter((m) => m.reopenPainted !== null);
    const fixed = reopen.every((m) => m.reopenPosition === "fixed");
    verdicts.push(
      `return: no dialog: yes (${runs} of ${runs} loads)`,
      `return: reopen button: ${reopen.length ? `${reopen.length} of ${runs} loads, position ${fixed ? "fixed" : "NOT fixed"}` : "not seen"}`,
      longTaskVerdict(loads, summary, runs, "return"),
      shiftVerdict(loads, runs, "return"),
    );
  }
  return verdicts;
}

// What "painted" is, and whether cold loads were cold and warm ones warm.
function printPaintedBy(loads, byElementTiming, cacheMode) {
  const firstVisits = [...loads.cold, ...loads.warm];
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
}

// Where the time goes: the median start and end of each request on the way to the dialog.
// (The first visit's part, then the full banner, which is asked for once the dialog is painted; a build
// from before the first visit's part has no first.js: its entries show as "-".)
const chain = ["/banner/banner.js", "/banner/first.js", "/banner/first_bg.wasm", "/v1/policy/banner/en", "/banner/banner.css", "/banner/banner_bg.wasm"];
function printWaterfall(loads, summary) {
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
  return waterfall;
}

// --steps: when each step of a visit's chain happened, medians in ms from navigation start, and the
// three durations inside first() (first visits; on a return visit the part is visit.js, and what it
// leads to is the granted inline script running).
function printSteps(loads) {
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
  const stepsSummary = {};
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
  return stepsSummary;
}

// --trace: where the main thread's time went, medians of the loads whose trace had it all.
function printMainThread(loads, reference, compare) {
  const parts = [
    ["script", "the banner's JS and wasm (evaluation, callbacks)"],
    ["wasmCompile", "wasm compilation"],
    ["styleLayout", "style and layout"],
    ["paint", "paint"],
    ["other", "other tasks (the page's parsing, loading)"],
    ["idle", "idle (waiting for the network)"],
  ];
  const mainThreadSummary = {};
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
  return mainThreadSummary;
}

// --compare: the same figures for cookieconsent, and the first paint of the page without a banner.
function printReference(loads, reference, version) {
  const of = (list, key) => stats(list.map((m) => m[key]));
  const referenceSummary = {
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
      // The banner's own share: from the first click listener (the page's, in the capture phase) to the
      // script, without the input delay that comes before any listener runs.
      grantedAfterInput: stats(c.filter((x) => x.granted !== null).map((x) => x.granted - x.inputDelay)),
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
    console.log(`${who}: the same, from the first click listener`.padEnd(70) + cell(a.grantedAfterInput));
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
  return referenceSummary;
}

// The verdicts of --compare: issue 18.3's return visits, issue 18.4's "Accept all".
function referenceVerdicts(referenceSummary) {
  const [ours, theirs] = [referenceSummary.returnVisit.ours.granted, referenceSummary.returnVisit.cookieconsent.granted];
  const a = referenceSummary.acceptAll.ours;
  const worstInp = Math.max(a.toPaint?.max ?? 0, a.inp?.max ?? 0);
  return [
    `return: granted scripts sooner than cookieconsent's: ${ours && theirs && ours.median < theirs.median ? "yes" : "no"} ` +
      `(median ${ours?.median ?? "-"} vs ${theirs?.median ?? "-"} ms, p95 ${ours?.p95 ?? "-"} vs ${theirs?.p95 ?? "-"})`,
    `accept all: INP < 50 ms: ${worstInp < 50 ? "met" : "NOT met"} (slowest ${worstInp} ms); ` +
      `granted scripts within 5 ms of the click: ${a.granted && a.granted.max <= 5 && a.grantedRan === a.clicks ? "met" : "NOT met"} ` +
      `(${a.granted ? `median ${a.granted.median}, max ${a.granted.max}` : "never ran"}; ${a.grantedRan} of ${a.clicks}` +
      `${a.grantedAfterInput ? `; from the first click listener: max ${a.grantedAfterInput.max}, the input delay up to ${a.inputDelay?.max}` : ""})`,
  ];
}

// --preload: a preload that is not used shows as a second request for the same file.
function preloadVerdict(loads) {
  const twice = (name) => [...loads.cold, ...loads.warm].filter((m) => m.resources.filter((r) => r.name.endsWith(name)).length > 1).length;
  const used = ["first.js", "first_bg.wasm", "/v1/policy/banner/en", "banner.css"].map((name) => `${name.split("/").pop()} ${twice(name) ? `NOT used in ${twice(name)} loads` : "used"}`);
  return `preload hints: ${used.join(", ")}`;
}
