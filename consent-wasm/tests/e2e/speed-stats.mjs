// banner-speed.mjs's figures, pure functions of what the loads measured: the targets, one load's summary
// (`summarize`, from the probe's snapshot), percentiles (`stats`), the metrics of the report's table and
// their summary per kind of load, and where the main thread's time went in a Chromium trace (`mainThread`).

// The targets: the dialog visible within 100 ms of navigation start, no task over 50 ms.
export const TARGET_VISIBLE_MS = 100;
export const LONG_TASK_MS = 50;

export const round = (x) => (x === null || x === undefined ? null : Math.round(x * 10) / 10);

export function summarize(raw, visit) {
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
export function stats(values, digits = 1) {
  const v = values.filter((x) => x !== null && x !== undefined).sort((a, b) => a - b);
  if (!v.length) return null;
  const rank = (p) => v[Math.min(v.length - 1, Math.ceil((p / 100) * v.length) - 1)];
  const r = (x) => Math.round(x * 10 ** digits) / 10 ** digits;
  return { n: v.length, median: r(rank(50)), p95: r(rank(95)), max: r(v[v.length - 1]) };
}

// The report's table: the key in a load's summary, its label, and its digits (1 unless said).
export const metrics = [
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

/** Each metric's `stats` over each kind of our loads (cold, warm, return). */
export function summaryOf(loads) {
  const summary = {};
  for (const mode of ["cold", "warm", "return"]) {
    summary[mode] = {};
    for (const [key, , digits] of metrics) summary[mode][key] = stats(loads[mode].map((m) => m[key]), digits);
  }
  return summary;
}
// Where the page's main thread spent its time between banner.js starting to run (its module evaluation)
// and the dialog's paint (`until`, ms from navigation start), in ms: top-level tasks split into their
// wasm compilation, style and layout, paint, and the rest of script (the banner's JS and wasm: evaluation,
// callbacks, microtasks); other top-level work; idle. Null when the trace lacks the page or the module.
// `pageUrl` is the page's address (the navigation's documentLoaderURL).
export function mainThread(events, pageUrl, until) {
  const nav = events
    .filter((e) => e.name === "navigationStart" && e.args?.data?.documentLoaderURL === pageUrl)
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
