// Profiles: reusable YAML files of config fields, one per name, 0600 because they may hold
// an api_key. Written atomically (temp file, fsync, rename) so a crash never leaves half a file.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync, chmodSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, NotFoundError, ValidationError, ConflictError } from "../errors.ts";
import { FIELD_NAMES, type FieldName } from "./fields.ts";
import { parseField } from "./parse.ts";

const NAME_RE = /^[A-Za-z0-9_-]{1,64}$/;
// Loaded on first use: evaluating the YAML library costs the long-running daemon ~7 MB of
// resident memory, and a daemon without a profile never needs it.
const loadYaml = () => import("yaml").then((m) => m.default);
export type ProfileValues = Partial<Record<FieldName, unknown>>;

export function validateProfileName(name: string | undefined, source = "--name"): string {
  if (!name) throw new ValidationError(`A profile name is required (${source}).`, "name");
  if (!NAME_RE.test(name)) {
    throw new ValidationError(`Invalid profile name "${name}" (${source}): use 1-64 letters, digits, '-' or '_'.`, "name");
  }
  return name;
}

export function createProfileStore(profilesDir: string) {
  const fileOf = (name: string) => join(profilesDir, `${validateProfileName(name)}.yaml`);

  async function write(name: string, values: ProfileValues) {
    const YAML = await loadYaml();
    mkdirSync(profilesDir, { recursive: true, mode: 0o700 });
    const file = fileOf(name);
    const tmp = `${file}.${process.pid}.tmp`;
    const body = Object.keys(values).length ? YAML.stringify(values) : "{}\n";
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
    try { fsyncSync(dir); } finally { closeSync(dir); }
  }

  /** Reads and validates a profile; every error names the file and the field. */
  async function read(name: string): Promise<ProfileValues> {
    const file = fileOf(name);
    if (!existsSync(file)) throw new NotFoundError(`Profile "${name}" does not exist (looked for ${file}). Create it with: nc-data-daemon profile create --name ${name}`);
    let doc: unknown;
    const YAML = await loadYaml();
    try {
      doc = YAML.parse(readFileSync(file, "utf8"));
    } catch (err) {
      throw new ConfigError(`Profile file ${file} is not valid YAML: ${(err as Error).message.split("\n")[0]}`);
    }
    if (doc === null || doc === undefined) return {};
    if (typeof doc !== "object" || Array.isArray(doc)) throw new ConfigError(`Profile file ${file} must be a mapping of field: value.`);
    const out: ProfileValues = {};
    for (const [key, raw] of Object.entries(doc as Record<string, unknown>)) {
      if (!(FIELD_NAMES as string[]).includes(key)) {
        throw new ConfigError(`Profile file ${file} has unknown field "${key}"; allowed fields: ${FIELD_NAMES.join(", ")}.`);
      }
      if (raw === null) continue;
      out[key as FieldName] = parseField(key as FieldName, raw, `profile file ${file}`);
    }
    return out;
  }

  return {
    fileOf,
    exists: (name: string) => existsSync(fileOf(name)),
    read,
    list(): string[] {
      if (!existsSync(profilesDir)) return [];
      return readdirSync(profilesDir).filter((f) => f.endsWith(".yaml") && NAME_RE.test(f.slice(0, -5))).map((f) => f.slice(0, -5)).sort();
    },
    async create(name: string, values: ProfileValues) {
      if (existsSync(fileOf(name))) throw new ConflictError(`Profile "${name}" already exists; change it with: nc-data-daemon profile update --name ${name}`);
      await write(name, values);
    },
    async update(name: string, values: ProfileValues, unset: FieldName[] = []) {
      const merged = { ...(await read(name)), ...values };
      for (const f of unset) delete merged[f];
      await write(name, merged);
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
