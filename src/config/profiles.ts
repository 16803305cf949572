// Profiles: reusable YAML files of config fields, one per name, 0600 because they may hold
// an api_key. Written atomically (temp file, fsync, rename) so a crash never leaves half a file.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync, chmodSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, NotFoundError, ValidationError } from "../errors.ts";
import type { FieldName } from "./fields.ts";
import { profileMapping, readProfileDoc, type ProfileDoc, type ProfileValues } from "./profile-doc.ts";

const NAME_RE = /^[A-Za-z0-9_-]{1,64}$/;
// Loaded on first use: evaluating the YAML library costs the long-running daemon ~7 MB of
// resident memory, and a daemon without a profile never needs it.
const loadYaml = () => import("yaml").then((m) => m.default);
export type { ProfileValues } from "./profile-doc.ts";

export function validateProfileName(name: string | undefined, source = "--name"): string {
  if (!name) throw new ValidationError(`A profile name is required (${source}).`, "name");
  if (!NAME_RE.test(name)) {
    throw new ValidationError(`Invalid profile name "${name}" (${source}): use 1-64 letters, digits, '-' or '_'.`, "name");
  }
  return name;
}

/** Reads and validates a profile file given by its path (`config validate FILE`). */
export async function readProfileFile(file: string): Promise<ProfileDoc> {
  const YAML = await loadYaml();
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new NotFoundError(`Profile file ${file} does not exist.`);
    throw new ConfigError(`Profile file ${file} cannot be read: ${(err as Error).message}`);
  }
  try {
    return readProfileDoc(YAML.parse(text), file);
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

export type ProfileStore = ReturnType<typeof createProfileStore>;
