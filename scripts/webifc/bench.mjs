// bench.mjs times web-ifc (the version pinned in package.json) on IFC files,
// as the reference that Plinth's own IFC reader is compared with.
//
// Usage: node bench.mjs FILE [FILE...]
//
// For each file it prints one JSON line on stdout:
//
//	file, bytes, instances  the file and the number of lines (instances)
//	                        that GetAllLines lists
//	openMs                  OpenModel (web-ifc parses and indexes the file)
//	allLinesMs              GetAllLines and iterating it to count the ids
//	getLinesMs              GetLine for every id (every instance decoded
//	                        into a JS object): a second, heavier measure
//	getLineFailures         ids that GetLine could not decode (web-ifc lacks
//	                        a decoder for some types of some schemas)
//	totalMs                 openMs + allLinesMs, what compares with a full
//	                        parse by Plinth
//	rssMB                   the largest resident set size sampled after
//	                        OpenModel, after GetAllLines and after GetLine
//	maxRssMB                the process's peak RSS so far (getrusage)
//
// Node start-up and the wasm Init are not in these times; initMs is
// reported once on stderr. Reading the file is not timed either.
import { readFileSync } from "node:fs";
import * as WebIFC from "web-ifc";

const files = process.argv.slice(2);
if (files.length === 0) {
  process.stderr.write("usage: node bench.mjs FILE [FILE...]\n");
  process.exit(2);
}

const ms = (a, b) => Number(b - a) / 1e6;
const mb = (n) => Math.round((n / (1024 * 1024)) * 10) / 10;

// In Node, the package's "node" export (web-ifc-api-node.js) loads the
// single-threaded web-ifc-node.wasm from its own folder: no SetWasmPath.
const t0 = process.hrtime.bigint();
const api = new WebIFC.IfcAPI();
await api.Init();
const t1 = process.hrtime.bigint();
// Undecodable lines are counted and reported below, once per file, rather
// than logged one by one.
api.SetLogLevel(WebIFC.LogLevel.LOG_LEVEL_OFF);
process.stderr.write(`web-ifc ${api.GetVersion?.() ?? "?"} initMs ${ms(t0, t1).toFixed(1)}\n`);

let failed = false;
for (const file of files) {
  const data = readFileSync(file);
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  let rss = 0;
  const sample = () => {
    rss = Math.max(rss, process.memoryUsage().rss);
  };

  const a = process.hrtime.bigint();
  const modelID = api.OpenModel(bytes);
  const b = process.hrtime.bigint();
  if (modelID < 0) {
    process.stderr.write(`${file}: web-ifc could not open the model\n`);
    failed = true;
    continue;
  }
  sample();

  const c = process.hrtime.bigint();
  const lines = api.GetAllLines(modelID);
  let instances = 0;
  const ids = new Uint32Array(lines.size());
  for (const id of lines) {
    ids[instances++] = id;
  }
  const d = process.hrtime.bigint();
  sample();
  lines.delete?.(); // an embind vector lives in the wasm heap

  const e = process.hrtime.bigint();
  let decoded = 0;
  let firstError = "";
  for (let i = 0; i < instances; i++) {
    try {
      if (api.GetLine(modelID, ids[i]) !== undefined) decoded++;
    } catch (err) {
      // web-ifc has no JS decoder for some types of some schemas (it logs
      // "Invalid IFC Line" and throws): count them, go on.
      if (!firstError) firstError = `#${ids[i]} ${api.GetNameFromTypeCode?.(api.GetLineType(modelID, ids[i])) ?? ""}: ${err.message}`;
    }
  }
  const f = process.hrtime.bigint();
  sample();
  if (decoded !== instances) {
    process.stderr.write(`${file}: GetLine decoded ${decoded} of ${instances} lines; first failure ${firstError}\n`);
  }

  api.CloseModel(modelID);

  const openMs = ms(a, b);
  const allLinesMs = ms(c, d);
  const round = (x) => Math.round(x * 1000) / 1000;
  console.log(
    JSON.stringify({
      file,
      bytes: bytes.byteLength,
      instances,
      openMs: round(openMs),
      allLinesMs: round(allLinesMs),
      getLinesMs: round(ms(e, f)),
      getLineFailures: instances - decoded,
      totalMs: round(openMs + allLinesMs),
      rssMB: mb(rss),
      maxRssMB: mb(process.resourceUsage().maxRSS * 1024),
    }),
  );
}
process.exit(failed ? 1 : 0);
