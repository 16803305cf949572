// Builds the single executable dist/nc-data-daemon for this machine (release.ts builds the rest).
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { buildInfo, compile } from "./compile.ts";

const outfile = process.argv[2] ?? "dist/nc-data-daemon";
mkdirSync(dirname(outfile), { recursive: true });
const info = await buildInfo();
await compile({ outfile, info });
console.log(`built ${outfile} (${info.commit})`);
