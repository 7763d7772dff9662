// The hash of everything the bundle is built from. `--write` stores it beside the build
// (server/console/static/source-hash.txt); `--check` fails when the committed build is stale.
// tests/console/test_bundle.py computes the same hash in Python: keep the two in step.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

const web = fileURLToPath(new URL("..", import.meta.url));
const INPUTS = ["index.html", "package.json", "package-lock.json", "tsconfig.json", "vite.config.ts", "src", "public"];
const OUT = join(web, "..", "server", "console", "static", "source-hash.txt");

function files(path) {
  let st;
  try { st = statSync(path); } catch { return []; }
  if (st.isFile()) return [path];
  return readdirSync(path).flatMap((name) => files(join(path, name)));
}

export function sourceHash() {
  const all = INPUTS.flatMap((p) => files(join(web, p)))
    .map((p) => relative(web, p).split(sep).join("/"))
    .filter((p) => !p.endsWith(".test.ts"))
    .sort();
  const h = createHash("sha256");
  for (const rel of all) {
    h.update(rel + "\0");
    h.update(readFileSync(join(web, rel)).toString("utf8").replace(/\r\n/g, "\n"));
    h.update("\0");
  }
  return h.digest("hex");
}

const mode = process.argv[2];
const hash = sourceHash();
if (mode === "--write") {
  writeFileSync(OUT, hash + "\n");
  console.log(`source hash ${hash.slice(0, 12)} written to ${relative(process.cwd(), OUT)}`);
} else if (mode === "--check") {
  const stored = readFileSync(OUT, "utf8").trim();
  if (stored !== hash) {
    console.error(`the built console is stale (built from ${stored.slice(0, 12)}, sources are ${hash.slice(0, 12)}): run make console`);
    process.exit(1);
  }
  console.log("the built console matches its sources");
} else {
  console.log(hash);
}
