// Holds the direction of imports that the layout promises: cli -> client -> api types;
// launch starts daemon/, which alone wires api, recordings, uploader, store and config.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const SRC = resolve(import.meta.dir, "../src");

// For each top-level module, the modules it may import (besides itself). Shared leaves
// (errors.ts, version.ts) are open to all.
const ALLOWED: Record<string, string[]> = {
  runtime: [],
  config: [],
  store: ["runtime"],
  recordings: ["store", "runtime"],
  uploader: ["store", "runtime"],
  api: ["config", "recordings", "uploader", "store", "runtime"],
  client: ["api", "config", "runtime"],
  daemon: ["api", "config", "recordings", "uploader", "store", "runtime"],
  cli: ["client", "config", "runtime", "service"],
  service: ["config"],
};
// The doors from the CLI into the daemon: launch runs it in-process, the commands that
// start, stop or probe the daemon process use its launcher and instance-lock files, and doctor
// asks the upload target one harmless question through target-probe.ts.
const DAEMON_DOORS = new Set(["daemon/daemon.ts", "daemon/run.ts", "daemon/launcher.ts", "daemon/instance-lock.ts", "daemon/target-probe.ts"]);
const allowedException = (file: string, target: string, typeOnly: boolean) =>
  ((file.startsWith("cli/commands/") || file === "cli/process-control.ts") && DAEMON_DOORS.has(target)) ||
  // ...and any CLI module may name what a door answers (a type), never run it.
  (file.startsWith("cli/") && DAEMON_DOORS.has(target) && typeOnly) ||
  // cli -> client -> api *types*: the CLI may name the API's shapes, never run its code.
  (file.startsWith("cli/") && target.startsWith("api/") && typeOnly) ||
  // recordings own the upload state and implement the uploader's port onto it.
  (file.startsWith("recordings/") && target === "uploader/ports.ts" && typeOnly);
// redact.ts is the one redactor every layer passes outside words through; time-ns.ts the one
// seconds-to-nanoseconds conversion the daemon, the SDK and the CLI share.
const SHARED = new Set(["errors.ts", "version.ts", "main.ts", "redact.ts", "time-ns.ts"]);

function* files(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* files(p);
    else if (p.endsWith(".ts")) yield p;
  }
}

const moduleOf = (file: string) => relative(SRC, file).split("/")[0]!;
const IMPORT_RE = /(?:import|export)(\s+type)?\s[^"';]*?from\s*["'](\.[^"']+)["']|import\s*\(?\s*["'](\.[^"']+)["']/g;

describe("architecture", () => {
  test("every module imports only the modules below it", () => {
    const violations: string[] = [];
    for (const file of files(SRC)) {
      const from = moduleOf(file);
      if (SHARED.has(from)) continue;
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(IMPORT_RE)) {
        const target = resolve(dirname(file), (m[2] ?? m[3])!);
        const to = moduleOf(target);
        if (to === from || SHARED.has(to) || to.startsWith("..")) continue;
        const rel = relative(SRC, file);
        if (!ALLOWED[from]?.includes(to) && !allowedException(rel, relative(SRC, target), Boolean(m[1]))) violations.push(`${rel} -> ${to}`);
      }
    }
    expect(violations).toEqual([]);
  });

  test("upload targets stay apart: s3/, tus/ and file/ never import each other, and only create-target.ts picks one", () => {
    // A target folder may use the uploader's shared pieces (body, http, retry, target); the
    // shared pieces know no target, so a change to one protocol cannot reach another. Every
    // folder under uploader/ is a target; shared pieces stay at the top.
    const dir = join(SRC, "uploader");
    const folderOf = (p: string) => (relative(dir, p).includes("/") ? relative(dir, p).split("/")[0]! : "");
    const folders = readdirSync(dir).filter((n) => statSync(join(dir, n)).isDirectory());
    expect(folders.sort()).toEqual(["file", "s3", "tus"]);
    const violations: string[] = [];
    for (const file of files(dir)) {
      const from = folderOf(file);
      const rel = relative(dir, file);
      for (const m of readFileSync(file, "utf8").matchAll(IMPORT_RE)) {
        const target = resolve(dirname(file), (m[2] ?? m[3])!);
        if (!target.startsWith(`${dir}/`)) continue;
        const to = folderOf(target);
        if (to === "" || to === from || (from === "" && rel === "create-target.ts")) continue;
        violations.push(`${rel} -> ${relative(dir, target)}`);
      }
    }
    expect(violations).toEqual([]);
  });

  test("recordings' units import one way: input/ and disk/ know no other unit, none knows the facade", () => {
    // The folders under recordings/ are units with one job; the files at the top wire them
    // (recordings.ts, the facade) or are the operations on a recording (ingest, finalize...).
    // A type-only import of the shared shapes (context.ts, types.ts) is open to every unit.
    // Besides its own folder, each unit may import what is listed here, and nothing else.
    const dir = join(SRC, "recordings");
    const UNITS: Record<string, string[]> = {
      input: [],
      disk: [],
      // A sealed segment's upload row (segment-finish.ts); the identity every segment opens with.
      // ...and its sealing (encrypt_to) after the rewrite.
      segments: ["disk/", "uploads/", "seal/", "identity.ts", "sql-int64.ts"],
      // Seals a closed object into an age file: durable writes only.
      seal: ["disk/"],
      // requireRecording: the recording's row or a not-found error.
      uploads: ["disk/", "recording-row.ts"],
      // Start-up repair runs the operations (a stop it finishes) on every unit.
      // ...and the u64 time rule, for a sealed segment adopted from its seal note.
      repair: ["disk/", "input/", "segments/", "uploads/", "seal/", "finalize.ts", "ids.ts", "sql-int64.ts"],
      // Watched folders: the operations it runs come in as ports (AdoptOps); the stored file's shape and the u64 time rule.
      // ...and durable writes for the journal of adopted versions.
      watch: ["disk/", "put-file.ts", "sql-int64.ts"],
    };
    const SHAPES = new Set(["context.ts", "types.ts"]);
    const folders = readdirSync(dir).filter((n) => statSync(join(dir, n)).isDirectory());
    expect(folders.sort()).toEqual(Object.keys(UNITS).sort());
    const violations: string[] = [];
    for (const file of files(dir)) {
      const rel = relative(dir, file);
      const unit = rel.includes("/") ? rel.split("/")[0]! : "";
      if (unit === "") continue;
      for (const m of readFileSync(file, "utf8").matchAll(IMPORT_RE)) {
        const target = resolve(dirname(file), (m[2] ?? m[3])!);
        if (!target.startsWith(`${dir}/`)) continue;
        const to = relative(dir, target);
        if (to.startsWith(`${unit}/`) || (SHAPES.has(to) && m[1])) continue;
        if (!UNITS[unit]!.some((allowed) => to === allowed || (allowed.endsWith("/") && to.startsWith(allowed)))) violations.push(`${rel} -> ${to}`);
      }
    }
    expect(violations).toEqual([]);
  });

  test("relative imports name their .ts file, so Deno runs the same source", () => {
    const bare: string[] = [];
    for (const file of files(SRC)) {
      for (const m of readFileSync(file, "utf8").matchAll(IMPORT_RE)) {
        const spec = (m[2] ?? m[3])!;
        if (!spec.endsWith(".ts") && !spec.endsWith(".json")) bare.push(`${relative(SRC, file)}: ${spec}`);
      }
    }
    expect(bare).toEqual([]);
  });

  test("only recordings/ (and store/ itself) touch the recordings' tables", () => {
    // Table names in SQL (FROM, JOIN, UPDATE, INSERT INTO, DELETE FROM) and imports of their
    // Drizzle tables, anywhere but in the module that owns them.
    const TABLES = ["recordings", "traces", "segments", "files", "uploads", "upload_parts"];
    const sqlUse = new RegExp(`\\b(?:FROM|JOIN|UPDATE|INTO)\\s+[\`"']?(?:${TABLES.join("|")})\\b`);
    const schemaImport = /from\s*["'][^"']*store\/schema\.ts["']/;
    // The store's escape hatches: raw SQL, the SQLite handle, the Drizzle instance.
    const rawSql = /\.raw\s*[<(]|\.handle\.(?:run|exec|values)\b|\.db\.(?:select|insert|update|delete)\b/;
    const outside = [...files(SRC)].map((f) => relative(SRC, f)).filter((f) => !f.startsWith("recordings/") && !f.startsWith("store/"));
    const found = outside.flatMap((f) => {
      const text = readFileSync(join(SRC, f), "utf8");
      return [
        sqlUse.test(text) && `${f}: SQL on a recordings table`,
        schemaImport.test(text) && `${f}: imports the schema`,
        rawSql.test(text) && `${f}: raw SQL`,
      ].filter(Boolean);
    });
    expect(found).toEqual([]);
  });

  test("daemon parts are handed to each other explicitly, not through a shared bag", () => {
    const bags = [...files(join(SRC, "daemon"))].filter((f) => /\bSharedParts\b|shared\.ts["']/.test(readFileSync(f, "utf8"))).map((f) => relative(SRC, f));
    expect(bags).toEqual([]);
  });

  test("only config loading, the entry point and the SDK's auto-start read the process environment", () => {
    // ensureDaemon() is called from user scripts, which expect NEURACORE_DAEMON_PROFILE and
    // HOME to be honoured without passing them in; it accepts an explicit env too.
    const OPEN = new Set(["main.ts", "client/ensure.ts"]);
    const readers = [...files(SRC)].filter((f) => /process\??\.env\b/.test(readFileSync(f, "utf8"))).map((f) => relative(SRC, f));
    expect(readers.filter((f) => !OPEN.has(f) && !f.startsWith("config/"))).toEqual([]);
  });

  test("no command file imports another command; a group only loads its own sub-commands lazily", () => {
    // What commands share (process control, argument sets, output) lives in src/cli/, so a
    // command can change without reaching into another. A group (record) may name the files
    // of its sub-commands (record-log.ts) in a lazy `() => import(...)`, and nothing else.
    const dir = join(SRC, "cli/commands");
    const violations: string[] = [];
    for (const file of files(dir)) {
      const name = relative(dir, file);
      for (const m of readFileSync(file, "utf8").matchAll(IMPORT_RE)) {
        const target = resolve(dirname(file), (m[2] ?? m[3])!);
        if (!target.startsWith(`${dir}/`)) continue;
        const to = relative(dir, target);
        const lazySub = m[3] !== undefined && to.startsWith(`${name.replace(/\.ts$/, "")}-`);
        if (!lazySub) violations.push(`${name} -> ${to}`);
      }
    }
    expect(violations).toEqual([]);
  });

  test("the client holds no CLI prose: live-apply and other command wording live in src/cli", () => {
    const prose = [...files(join(SRC, "client"))]
      .filter((f) => /nc-data-daemon (restart|update|profile)\b/.test(readFileSync(f, "utf8")))
      .map((f) => relative(SRC, f));
    expect(prose).toEqual([]);
  });

  test("the client reaches routes through the typed hc client only: no route path written as a string", () => {
    // A path written by hand escapes AppType: a renamed or removed route would fail at run time.
    const literal = [...files(join(SRC, "client"))].filter((f) => readFileSync(f, "utf8").includes("/v1/")).map((f) => relative(SRC, f));
    expect(literal).toEqual([]);
  });

  test("no contract type is declared in two folders", () => {
    // Shapes and constants (functions are behaviour, not contract), exported or not.
    const DECL = /^(?:export\s+)?(?:declare\s+)?(?:interface|type|class|enum|const|let)\s+([A-Za-z_$][\w$]*)/gm;
    const declaredIn = new Map<string, Set<string>>(); // name -> folders
    for (const file of files(SRC)) {
      for (const m of readFileSync(file, "utf8").matchAll(DECL)) declaredIn.set(m[1]!, (declaredIn.get(m[1]!) ?? new Set()).add(moduleOf(file)));
    }
    // The contract: what the API exports (src/api/index.ts and its contract module), whether
    // declared in api/ or where it is produced (recordings/, uploader/) and re-exported.
    const exportedNames = (file: string) => {
      const text = readFileSync(join(SRC, file), "utf8");
      const listed = [...text.matchAll(/export\s+(?:type\s+)?\{([^}]*)\}/g)].flatMap((m) =>
        m[1]!.split(",").map(
          (x) =>
            x
              .trim()
              .replace(/^type\s+/, "")
              .split(/\s+as\s+/)[0]!,
        ),
      );
      return [...listed, ...[...text.matchAll(DECL)].filter((m) => m[0].startsWith("export")).map((m) => m[1]!)].filter(Boolean);
    };
    const contract = new Set([...exportedNames("api/index.ts"), ...exportedNames("api/contract.ts")]);
    // The answers' types are inferred from the contract's schemas (api/contract/); the SDK's
    // names for them (RecordingView, StoredFile...) are re-exports of these.
    for (const name of [
      "StoredFileBody",
      "Frame",
      "FRAMES_TYPE",
      "UploadProgressBody",
      "RecordingProgressBody",
      "RecordingViewBody",
      "RecordingAnswerBody",
      "CreateRecordingInput",
      "Health",
      "StatusBody",
      "ErrorBody",
      "DaemonEvent",
      "SETTLED_STATES",
      "RECORDING_STATES",
    ])
      expect(contract).toContain(name);
    const twice = [...contract].filter((name) => (declaredIn.get(name)?.size ?? 0) > 1).map((name) => `${name}: ${[...declaredIn.get(name)!].join(", ")}`);
    expect(twice).toEqual([]);
  });
});
