import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import { describeRoute } from "hono-openapi";
import * as v from "valibot";
import { DaemonEventSchema, type DaemonEvent } from "./contract.ts";
import type { ApiDeps } from "./deps.ts";
import { answer } from "./route-docs.ts";
import { queryInput } from "./validated-input.ts";

/** `?types=a,b` keeps only those event types; a type ending in `.*` matches a prefix. */
function typeFilter(raw: string | undefined): ReadonlySet<string> | null {
  const types = (raw ?? "")
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean);
  return types.length ? new Set(types) : null;
}

const eventsQuery = v.object({ types: v.optional(v.pipe(v.string(), v.description("Comma-separated event types; `prefix.*` matches a prefix."))) });

/** Well under the daemon's idle connection timeout (30 s), checked every 4 s by Bun. */
const KEEP_ALIVE_MS = 10_000;

export const eventsRoutes = (deps: Pick<ApiDeps, "events">) =>
  new Hono().get(
    "/",
    describeRoute({
      summary: "Server-sent events; each data line is {id,type,time,data}.",
      responses: { 200: answer("Each event's data line is one event as JSON.", DaemonEventSchema, "text/event-stream") },
    }),
    queryInput(eventsQuery),
    (c) => {
      const types = typeFilter(c.req.valid("query").types);
      return streamSSE(c, async (stream) => {
        const queue: DaemonEvent[] = [];
        let wake: (() => void) | undefined;
        let closed = false;
        const unsubscribe = deps.events.subscribe({
          types,
          onEvent(e) {
            queue.push(e);
            wake?.();
          },
          onClose() {
            closed = true;
            wake?.();
          },
        });
        stream.onAbort(() => {
          closed = true;
          wake?.();
        });
        // A comment line tells the client the subscription is in place before any event.
        await stream.write(": subscribed\n\n");
        // A quiet stream writes a comment now and then, so the server's idle timeout for
        // connections (30 s) never closes it; clients ignore comments.
        const keepAlive = setInterval(() => void stream.write(": keep-alive\n\n").catch(() => {}), KEEP_ALIVE_MS);
        try {
          while (!closed || queue.length) {
            const e = queue.shift();
            if (e) {
              await stream.writeSSE({ event: e.type, id: String(e.id), data: JSON.stringify(e) });
              continue;
            }
            if (closed) break;
            await new Promise<void>((r) => (wake = r));
            wake = undefined;
          }
        } finally {
          clearInterval(keepAlive);
          unsubscribe();
        }
      });
    },
  );
