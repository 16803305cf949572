import { createClient } from "../../client/client.ts";
import { probeConfiguredTarget } from "../../daemon/target-probe.ts";
import { configArgs, instanceArg, jsonArg, profileArg } from "../args.ts";
import { defineCli } from "../command.ts";
import { checkLine, type CheckResult } from "../doctor/check.ts";
import { diskCheck, foldersCheck, permissionsCheck, serviceCheck, serviceDefinition, wakelockCheck } from "../doctor/local-checks.ts";
import { clockCheck, targetCheck } from "../doctor/target-checks.ts";
import { sealingCheck } from "../doctor/sealing-check.ts";
import { linkCheck } from "../doctor/link-check.ts";
import { EXIT } from "../../errors.ts";
import { loadFromArgs } from "../load.ts";
import { printJson } from "../output.ts";

export default defineCli({
  meta: {
    name: "doctor",
    description:
      "Check this setup: file permissions, disk space against the storage limit, the upload target (reachable, credentials accepted), clock skew, wakelock, the service, the folders the config writes, sealing (no age identity kept beside the daemon), and the link uploads use (a warning when they run over a metered one under metered_policy allow). One line per check with its fix; exit 1 if any fails.",
  },
  args: { ...profileArg, ...instanceArg, ...jsonArg, ...configArgs },
  examples: ["nc-data-daemon doctor", "nc-data-daemon doctor --profile robot", "nc-data-daemon doctor --json | jq '.checks[] | select(.ok == false)'"],
  async run({ args: a, data: ctx }) {
    const loaded = await loadFromArgs(a, ctx);
    const client = createClient({ socket: loaded.paths.socket, timeoutMs: 3000 });
    const health = await client.health().catch(() => null);
    // A running daemon knows its recordings' bytes; without one the folder is measured.
    const status = health ? await client.status().catch(() => undefined) : undefined;
    const used = status?.storage.used_bytes;
    const probe = await probeConfiguredTarget(loaded.config, ctx.env);
    const def = serviceDefinition(loaded, loaded.home, ctx.env.NCD_SYSTEM_ROOT?.trim() || "/");
    const checks: CheckResult[] = [
      permissionsCheck(loaded),
      diskCheck(loaded, used, status?.storage.limit_bytes),
      targetCheck(loaded.config, probe),
      clockCheck(probe),
      wakelockCheck(loaded, ctx.env),
      serviceCheck(def, health),
      foldersCheck(loaded, def?.manager === "systemd" ? def.file : null),
      sealingCheck(loaded),
      linkCheck(status),
    ];
    const ok = checks.every((c) => c.ok);
    if (a.json) printJson(ctx, { ok, checks });
    else {
      const width = Math.max(...checks.map((c) => c.check.length));
      ctx.out(`${checks.map((c) => checkLine(c, width)).join("\n")}\n`);
    }
    return ok ? EXIT.ok : EXIT.error;
  },
});
