// `recordings watch ID`: follows one recording's upload until it is uploaded (exit 0),
// failed (exit 5) or cancelled (exit 1): a progress bar redrawn in place on a terminal, one plain line per
// update otherwise. It follows the daemon's events for the recording (no polling): each change
// redraws, at most once per --interval.
import { createClient } from "../../client/client.ts";
import { followRecording } from "../../client/follow.ts";
import { recordingsApi } from "../../client/recordings-api.ts";
import { pathsOf } from "../../config/index.ts";
import { EXIT, UsageError } from "../../errors.ts";
import { instanceArg, intervalArg, intervalMs, jsonArg } from "../args.ts";
import { defineCli } from "../command.ts";
import type { CliContext } from "../context.ts";
import { createPainter, loop, recordingLines } from "../progress.ts";

export default defineCli({
  meta: { name: "watch", description: "Show a recording's upload progress until it is uploaded (exit 0) or failed (exit 5)." },
  args: {
    id: { type: "positional", description: "Recording id.", required: false },
    ...instanceArg,
    ...jsonArg,
    ...intervalArg,
  },
  examples: ["nc-data-daemon recordings watch 0190f0c2-7a3e-7b1c-9c1e-5d2f3a4b5c6d", "nc-data-daemon recordings watch ID --json | jq .upload"],
  run: ({ args: a, data: ctx }) => watch(a, ctx),
});

async function watch(a: { id?: string; instance?: string; json?: boolean; interval?: string }, ctx: CliContext): Promise<number> {
  const id = a.id;
  if (!id) throw new UsageError("recordings watch needs a recording id, e.g. nc-data-daemon recordings watch 0190f0c2-7a3e-7b1c-9c1e-5d2f3a4b5c6d.");
  const every = intervalMs(a.interval);
  const paths = pathsOf({ env: ctx.env, instance: a.instance });
  const client = createClient({ socket: paths.socket, timeoutMs: 5000 });
  const painter = createPainter(ctx);
  const recordings = recordingsApi(client);
  const stop = new AbortController();
  const updates = followRecording(client, id, { signal: stop.signal });
  try {
    return await loop(ctx, every, async () => {
      const next = await updates.next();
      // The stream ended (the daemon stopped): one more read says so, or shows the last state.
      const r = next.done ? await recordings.get(id) : next.value;
      if (a.json)
        ctx.out(
          `${JSON.stringify({ time: new Date().toISOString(), id: r.id, state: r.state, error: r.error ?? null, upload: r.upload, upload_progress: r.upload_progress ?? null })}\n`,
        );
      else painter.draw(recordingLines(r, painter.tty));
      if (r.state === "uploaded") return EXIT.ok;
      if (r.state === "failed" || r.state === "cancelled") {
        if (!a.json)
          ctx.err(
            `Recording ${r.id} ${r.state === "failed" ? `failed to upload${r.error ? `: ${r.error}` : ""}; fix the cause, then run nc-data-daemon recordings retry ${r.id}` : "was cancelled"}.\n`,
          );
        return r.state === "failed" ? EXIT.uploadFailed : EXIT.error;
      }
      return undefined;
    });
  } finally {
    stop.abort();
    void updates.return(undefined);
  }
}
