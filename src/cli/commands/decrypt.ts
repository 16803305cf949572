// `decrypt --identity KEY.txt FILE|DIR`: opens sealed objects fetched from the target. A DIR is
// a recording's folder as the target holds it (manifest.json, segments/, files/): every sealed
// object the manifest lists is decrypted beside it and checked against the manifest's plaintext
// size and sha256. A FILE is one object; the manifest two folders up, when there, checks it.
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { UsageError, ValidationError } from "../../errors.ts";
import { decryptFile, readIdentities } from "../age-decrypt.ts";
import { jsonArg } from "../args.ts";
import { defineCli } from "../command.ts";
import { printJson } from "../output.ts";

interface ManifestObject {
  key: string;
  sealed?: { plaintext_bytes: number; plaintext_sha256: string; recipients: string[] };
}

interface Result {
  object: string;
  output: string;
  bytes: number;
  sha256: string;
  /** true: matches the manifest; null: no manifest entry to check against. */
  verified: boolean | null;
}

function readManifest(path: string): ManifestObject[] {
  try {
    const m = JSON.parse(readFileSync(path, "utf8")) as { segments?: ManifestObject[]; files?: ManifestObject[] };
    return [...(m.segments ?? []), ...(m.files ?? [])];
  } catch (err) {
    throw new ValidationError(`${path} is not a readable manifest (${(err as Error).message}).`);
  }
}

const plainName = (p: string) => p.replace(/\.age$/, "");

async function open(input: string, entry: ManifestObject | undefined, identities: string[]): Promise<Result> {
  const output = plainName(input);
  if (existsSync(output)) throw new UsageError(`${output} exists already; move it away to decrypt ${input} again.`);
  const out = await decryptFile(input, output, identities);
  const want = entry?.sealed;
  if (want && (want.plaintext_sha256 !== out.sha256 || want.plaintext_bytes !== out.bytes)) {
    throw new ValidationError(
      `${input} decrypted to ${out.bytes} bytes with sha256 ${out.sha256}, but the manifest lists ${want.plaintext_bytes} bytes with sha256 ${want.plaintext_sha256}: it is not the object the recording sealed.`,
    );
  }
  return { object: input, output, ...out, verified: want ? true : null };
}

export default defineCli({
  meta: { name: "decrypt", description: "Decrypt sealed objects (.age) fetched from the target, checked against the recording's manifest." },
  args: {
    path: { type: "positional", description: "A recording's folder (with manifest.json) or one .age object.", valueHint: "FILE|DIR" },
    identity: { type: "string", description: "File with the age identity (AGE-SECRET-KEY-1..., from age-keygen).", valueHint: "KEY.txt", required: true },
    ...jsonArg,
  },
  examples: [
    "nc-data-daemon decrypt --identity fleet-key.txt ./0190f0c2-7a3e-7b1c-9c1e-5d2f3a4b5c6d",
    "nc-data-daemon decrypt --identity fleet-key.txt segments/000001.mcap.age",
  ],
  async run({ args: a, data: ctx }) {
    const identities = readIdentities(resolve(ctx.cwd, String(a.identity)));
    const target = resolve(ctx.cwd, String(a.path));
    if (!existsSync(target)) throw new UsageError(`${target} does not exist.`);
    const results: Result[] = [];
    if (statSync(target).isDirectory()) {
      const manifest = join(target, "manifest.json");
      if (!existsSync(manifest))
        throw new UsageError(`${target} has no manifest.json: give a recording's folder as fetched from the target, or one .age file.`);
      const sealed = readManifest(manifest).filter((o) => o.sealed);
      if (!sealed.length) throw new ValidationError(`${manifest} lists no sealed object: nothing to decrypt.`);
      for (const o of sealed) results.push(await open(join(target, o.key), o, identities));
    } else {
      if (!target.endsWith(".age")) throw new UsageError(`${target} is not a sealed object (its name ends in .age).`);
      // <recording>/segments/000001.mcap.age: the manifest is two folders up.
      const recording = dirname(dirname(target));
      const manifest = join(recording, "manifest.json");
      const entry = existsSync(manifest) ? readManifest(manifest).find((o) => o.key === relative(recording, target)) : undefined;
      results.push(await open(target, entry, identities));
    }
    if (a.json) return printJson(ctx, results);
    for (const r of results)
      ctx.out(`${r.output}: ${r.bytes} bytes, sha256 ${r.sha256}${r.verified ? ", matches the manifest" : " (no manifest entry to check it against)"}\n`);
  },
});
