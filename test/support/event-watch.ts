// The daemon's event stream (GET /v1/events) read from a test: every event of the given types
// from the moment the daemon confirms the subscription, kept in order. For proving that
// something did not happen, wait for the event in which the daemon says it looked and decided
// (e.g. `upload.pass`), never for a stretch of time.
import { readEvents } from "../../src/client/sse.ts";

interface WatchedEvent {
  id: number;
  type: string;
  time: string;
  data: any;
}

export interface EventWatch {
  events: WatchedEvent[];
  /** The first event (already seen or still to come) that `match` accepts. No deadline: the test's timeout is the limit. */
  first(what: string, match: (e: WatchedEvent) => boolean): Promise<WatchedEvent>;
  close(): void;
}

export async function watchEvents(socket: string, types: string[]): Promise<EventWatch> {
  const ctl = new AbortController();
  const res = await fetch(`http://localhost/v1/events?types=${types.join(",")}`, { unix: socket, signal: ctl.signal } as RequestInit);
  if (!res.ok || !res.body) throw new Error(`GET /v1/events: ${res.status} ${await res.text()}`);
  const [comments, stream] = res.body.tee();
  // The daemon writes ": subscribed" once the subscription is in place, before any event.
  const reader = comments.getReader();
  const decoder = new TextDecoder();
  for (let text = ""; !text.includes(": subscribed"); ) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the event stream ended before the subscription was confirmed");
    text += decoder.decode(value, { stream: true });
  }
  void reader.cancel().catch(() => {});
  const events: WatchedEvent[] = [];
  let wake = () => {};
  void (async () => {
    try {
      for await (const e of readEvents(stream)) {
        events.push(e as WatchedEvent);
        wake();
      }
    } catch {
      // closed
    }
  })();
  return {
    events,
    async first(what, match) {
      let told = false;
      const started = Date.now();
      for (;;) {
        const hit = events.find(match);
        if (hit) return hit;
        if (!told && Date.now() - started > 20_000) {
          told = true;
          console.error(`still waiting for ${what}; events so far: ${JSON.stringify(events.slice(-5))}`);
        }
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 1000);
        });
      }
    },
    close: () => ctl.abort(),
  };
}
