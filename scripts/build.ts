// Builds the single executable dist/nc-data-daemon. A stray .env or bunfig.toml in the
// directory where the daemon is started must never change it, hence the no-autoload flags.
import { $ } from "bun";
import { mkdirSync } from "node:fs";

const commit = (await $`git rev-parse --short=12 HEAD`.nothrow().quiet().text()).trim() || "unknown";
const dirty = (await $`git status --porcelain --untracked-files=no`.nothrow().quiet().text()).trim() ? "-dirty" : "";
const outfile = process.argv[2] ?? "dist/nc-data-daemon";
mkdirSync("dist", { recursive: true });

// The segment rewrite worker (new Worker(new URL(...))) is a second entry point of the binary.
await $`bun build src/main.ts src/recordings/segment-compact-worker.ts --compile --minify --bytecode --format=esm --sourcemap=inline --no-compile-autoload-dotenv --no-compile-autoload-bunfig --define NCD_BUILD_COMMIT=${JSON.stringify(commit + dirty)} --outfile ${outfile}`;
console.log(`built ${outfile} (${commit}${dirty})`);
