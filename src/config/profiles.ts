// Profiles: reusable YAML files of config fields, one per name, 0600 because they may hold
// an api_key. Written atomically (temp file, fsync, rename) so a crash never leaves half a file.
import { closeSync, existsSync, fstatSync, fsyncSync, mkdirSync, openSync, readdirSync, readSync, renameSync, unlinkSync, writeSync, chmodSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, NotFoundError, ValidationError } from "../errors.ts";
import type { FieldName } from "./fields.ts";
import { profileMapping, readProfileDoc, type ProfileDoc, type ProfileValues } from "./profile-doc.ts";

const NAME_RE = /^[A-Za-z0-9_-]{1,64}$/;
// Loaded on first use: evaluating the YAML library costs the long-running daemon ~7 MB of
// resident memory, and a daemon without a profile never needs it.
const loadYaml = () => import("yaml").then((m) => m.default);
export type { ProfileValues } from "./profile-doc.ts";

/** A profile holds a few fields; anything bigger is a mistake (or an attack), refused before it is read whole. */
const MAX_PROFILE_BYTES = 1024 * 1024;

function tooBig(file: string, size: string): ConfigError {
  return new ConfigError(
    `Profile file ${file} is ${size}; a profile may be at most 1 MiB (${MAX_PROFILE_BYTES} bytes). Keep only its fields (nc-data-daemon config generate lists them).`,
  );
}

/** The file's text, read up to the cap and no further (a file that grows, or /dev/zero, included). */
function readCapped(file: string): string {
  const fd = openSync(file, "r");
  try {
    const size = fstatSync(fd).size;
    if (size > MAX_PROFILE_BYTES) throw tooBig(file, `${size} bytes`);
    const buf = Buffer.alloc(MAX_PROFILE_BYTES + 1);
    let n = 0;
    for (let got; n < buf.byteLength && (got = readSync(fd, buf, n, buf.byteLength - n, null)) > 0; ) n += got;
    if (n > MAX_PROFILE_BYTES) throw tooBig(file, "over 1 MiB");
    return buf.subarray(0, n).toString("utf8");
  } finally {
    closeSync(fd);
  }
}

/**
 * Parses a profile in time linear in its keys. The YAML library's own duplicate-key check
 * (`uniqueKeys`) compares each key with every earlier one: a 20,000-key file took 2.3 s to
 * parse, 0.15 s without it. The same check is done here with a set.
 */
async function parseProfile(text: string, file: string): Promise<unknown> {
  const YAML = await loadYaml();
  const doc = YAML.parseDocument(text, { uniqueKeys: false });
  if (doc.errors.length) throw doc.errors[0];
  if (YAML.isMap(doc.contents)) {
    const seen = new Set<string>();
    for (const item of doc.contents.items) {
      const key = YAML.isScalar(item.key) ? String(item.key.value) : String(item.key);
      if (seen.has(key)) throw new ConfigError(`Profile file ${file} has the key "${key}" more than once; keep one.`);
      seen.add(key);
    }
  }
  return doc.toJS();
}

export function validateProfileName(name: string | undefined, source = "--name"): string {
  if (!name) throw new ValidationError(`A profile name is required (${source}).`, "name");
  if (!NAME_RE.test(name)) {
    throw new ValidationError(`Invalid profile name "${name}" (${source}): use 1-64 letters, digits, '-' or '_'.`, "name");
  }
  return name;
}

/** Reads and validates a profile file given by its path (`config validate FILE`). */
export async function readProfileFile(file: string): Promise<ProfileDoc> {
  let text: string;
  try {
    text = readCapped(file);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new NotFoundError(`Profile file ${file} does not exist.`);
    throw new ConfigError(`Profile file ${file} cannot be read: ${(err as Error).message}`);
  }
  try {
    return readProfileDoc(await parseProfile(text, file), file);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`Profile file ${file} is not valid YAML: ${(err as Error).message.split("\n")[0]}`);
  }
}

export function createProfileStore(profilesDir: string) {
  const fileOf = (name: string) => join(profilesDir, `${validateProfileName(name)}.yaml`);

  async function write(name: string, mapping: Record<string, unknown>) {
    const YAML = await loadYaml();
    mkdirSync(profilesDir, { recursive: true, mode: 0o700 });
    const file = fileOf(name);
    const tmp = `${file}.${process.pid}.tmp`;
    const body = YAML.stringify(mapping);
    const fd = openSync(tmp, "w", 0o600);
    try {
      writeSync(fd, body);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    chmodSync(tmp, 0o600);
    renameSync(tmp, file);
    const dir = openSync(profilesDir, "r");
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  }

  async function readDoc(name: string): Promise<ProfileDoc> {
    const file = fileOf(name);
    if (!existsSync(file))
      throw new NotFoundError(`Profile "${name}" does not exist (looked for ${file}). Create it with: nc-data-daemon profile create --name ${name}`);
    return readProfileFile(file);
  }

  /** Reads and validates a profile; every error names the file and the field. */
  const read = async (name: string): Promise<ProfileValues> => (await readDoc(name)).values;

  return {
    fileOf,
    exists: (name: string) => existsSync(fileOf(name)),
    read,
    /** The values and the keys that are no field (a typo, or a newer version's field). */
    readDoc,
    list(): string[] {
      if (!existsSync(profilesDir)) return [];
      return readdirSync(profilesDir)
        .filter((f) => f.endsWith(".yaml") && NAME_RE.test(f.slice(0, -5)))
        .map((f) => f.slice(0, -5))
        .sort();
    },
    /** Creates a profile; false (and the file untouched) when it exists already. */
    async create(name: string, values: ProfileValues): Promise<boolean> {
      if (existsSync(fileOf(name))) return false;
      await write(name, profileMapping(values));
      return true;
    },
    async update(name: string, values: ProfileValues, unset: FieldName[] = []) {
      const doc = await readDoc(name);
      const merged = { ...doc.values, ...values };
      for (const f of unset) delete merged[f];
      await write(name, profileMapping(merged, doc.extra));
      return merged;
    },
    remove(name: string) {
      const file = fileOf(name);
      if (!existsSync(file)) throw new NotFoundError(`Profile "${name}" does not exist (looked for ${file}).`);
      unlinkSync(file);
    },
  };
}
