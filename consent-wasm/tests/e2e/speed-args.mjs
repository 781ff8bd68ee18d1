// banner-speed.mjs's command line: its options, their defaults, and the usage line it prints when they are
// wrong.

import path from "node:path";

export const USAGE =
  "usage: node banner-speed.mjs <consent-server binary> <banner dir> <work dir> [--quick] [--runs N] [--out FILE] [--reduced-motion] [--compare DIR] [--trace] [--preload] [--async] [--high] [--steps]";

/** The options of `argv` (the arguments after the script's name), or null when they are not a valid
 * command line (three positional arguments, at least one run, a directory after --compare). `out`
 * defaults to speed.json in the banner's directory. */
export function parseArgs(argv) {
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
  if (!work || !(runs >= 1) || (argv.includes("--compare") && !compare)) return null;
  out ??= path.join(bannerDir, "speed.json");
  return { serverBin, bannerDir, work, runs, out, reducedMotion, compare, trace, steps, preload, asyncTag, highPriority };
}
