import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { createClient } from "../../client/client.ts";
import { recordingsApi } from "../../client/recordings-api.ts";
import { flagName, loadConfig, type FieldName } from "../../config/index.ts";
import { launchInBackground } from "../../daemon/launcher.ts";
import { EXIT, UsageError } from "../../errors.ts";
import { getRuntime } from "../../runtime/index.ts";
import { configArgs, configFlagsOf, profileArg } from "../args.ts";
import { runChild } from "../child-command.ts";
import { defineCli } from "../command.ts";
import { childLaunch, stopInstance } from "../process-control.ts";
import { waitForAllUploads, waitTimeoutMs, type WaitOutcome } from "../upload-wait.ts";

const shellWord = (w: string) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, "'\\''")}'`);

/** The variable naming the folder of the private instance; every client honours it. */
const INSTANCE_DIR_ENV = "NCD_INSTANCE_DIR";

export default defineCli({
  meta: {
    name: "run",
    description:
      "Run a command beside a private daemon of its own (socket, state and recordings in a new temporary folder): every client inside it uses that daemon. Recordings left open are stopped; --wait-upload waits for their upload. Exit code: the command's (128+N when killed by signal N); when it exited 0, 4 if the wait timed out, 5 if an upload failed.",
  },
  args: {
    ...profileArg,
    "wait-upload": {
      type: "boolean",
      description: "After the command, wait until its recordings are uploaded; --wait-upload=5m gives up after that long (exit 4).",
    },
    keep: { type: "boolean", description: "Keep the temporary folder (state and recordings) and say where it is." },
    command: { type: "positional", description: "The command to run, after --.", valueHint: "-- CMD ARGS...", required: false },
    ...configArgs,
  },
  examples: [
    "nc-data-daemon run -- python record_episode.py",
    "nc-data-daemon run --upload-url s3://bucket/ci --wait-upload=10m -- ./test.sh",
    "nc-data-daemon run --keep --offline -- nc-data-daemon record start --name smoke",
  ],
  async run({ args: a, rawArgs, data: ctx }) {
    const dash = rawArgs.indexOf("--");
    const argv = dash >= 0 ? rawArgs.slice(dash + 1) : [];
    if (!argv.length) throw new UsageError('run needs a command after "--", e.g. nc-data-daemon run -- python script.py.');
    if (a._.length !== argv.length) throw new UsageError(`Unexpected argument "${a._[0]}" for "nc-data-daemon run": put the command after "--".`);
    const waitMs = a["wait-upload"] === undefined || a["wait-upload"] === false ? undefined : waitTimeoutMs(a["wait-upload"], "--wait-upload");

    const dir = mkdtempSync(join(ctx.env.TMPDIR?.trim() || "/tmp", "ncd-run-"));
    chmodSync(dir, 0o700);
    const env: Record<string, string | undefined> = { ...ctx.env, [INSTANCE_DIR_ENV]: dir };
    delete env.NCD_INSTANCE;
    // Parallel jobs never share a storage root: a profile's or the environment's path gives way
    // to this instance's own, unless the flag asks for another.
    const given = configFlagsOf(a as Record<string, unknown>);
    const explicitStore = given.path_to_store_record !== undefined;
    const flags: Record<string, unknown> = Object.fromEntries(Object.entries(given).map(([f, v]) => [flagName(f as FieldName), v]));
    if (!explicitStore) flags[flagName("path_to_store_record")] = join(dir, "recordings");

    let keepReason: string | null = a.keep ? "--keep" : null;
    const removeDir = () => {
      if (keepReason === null) rmSync(dir, { recursive: true, force: true });
    };
    let loaded: Awaited<ReturnType<typeof loadConfig>>;
    try {
      loaded = await loadConfig({ env, flags: configFlagsOf(flags), profile: a.profile, cwd: ctx.cwd });
      const runtime = await getRuntime();
      await launchInBackground({ runtime, paths: loaded.paths, ...childLaunch({ profile: a.profile, ...flags }, env), cwd: ctx.cwd });
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    const { paths, config } = loaded;
    const client = createClient({ socket: paths.socket, timeoutMs: 10_000 });
    let code: number;
    let outcome: WaitOutcome = "done";
    try {
      code = (await runChild(argv, env, ctx)).code;
      // Recordings the command left open are stopped, so they can upload.
      const recs = recordingsApi(client);
      for (;;) {
        const open = await recs.list({ state: "recording", limit: 1000 });
        for (const r of open.items) await recs.stop(r.id).catch(() => {});
        if (!open.next_cursor || !open.items.length) break;
      }
      // Offline, nothing would ever upload: the wait would only run out.
      if (waitMs !== undefined && config.upload_url && config.offline) ctx.err("Not waiting for uploads: the daemon is offline.\n");
      else if (waitMs !== undefined && config.upload_url) outcome = await waitForAllUploads(client, ctx, waitMs);
      // Data not uploaded while a target was set is kept, with the state to resume it.
      if (config.upload_url && keepReason === null) {
        const s = await client.status();
        const byState = (s.recordings ?? {}) as Record<string, number>;
        const left = Object.entries(byState).filter(([k, n]) => n > 0 && k !== "uploaded" && k !== "cancelled");
        if (left.length) keepReason = `${left.map(([k, n]) => `${n} ${k}`).join(", ")} not uploaded`;
        // Asked to wait, but offline: the upload has not finished, as after a timeout.
        if (left.length && waitMs !== undefined && config.offline) outcome = "offline";
      }
    } finally {
      await stopInstance(paths, 15_000).catch((err) => ctx.err(`Could not stop the private daemon: ${(err as Error).message}\n`));
      removeDir();
    }
    if (keepReason !== null) {
      const where = explicitStore ? `state in ${dir}, recordings in ${config.path_to_store_record}` : `state and recordings in ${dir}`;
      // The same settings, without secrets (which never go into a printed command line).
      const launch = childLaunch({ profile: a.profile, ...flags }, env);
      const again = launch.args.map(shellWord).join(" ");
      const secrets = launch.env !== env ? " (add the secret flags you gave)" : "";
      ctx.err(`Kept (${keepReason}): ${where}. Resume it with: ${INSTANCE_DIR_ENV}=${shellWord(dir)} nc-data-daemon launch ${again}${secrets}\n`);
    }
    if (code !== EXIT.ok) return code;
    if (outcome === "timed-out" || outcome === "offline") {
      ctx.err(
        `${outcome === "offline" ? "Uploads did not finish (offline)" : "Timed out waiting for uploads"}; they go on when the kept instance is launched again.\n`,
      );
      return EXIT.waitTimedOut;
    }
    if (outcome === "failed") {
      ctx.err("An upload failed; see `recordings show ID` in the kept instance.\n");
      return EXIT.uploadFailed;
    }
    return EXIT.ok;
  },
});
