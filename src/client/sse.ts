// Reads a text/event-stream body into daemon events (the data line is the event as JSON).
// The daemon writes the comment ": subscribed" once its subscription is in place, before any
// event: `onSubscribed` is called then, so a caller can read a state knowing that every later
// change will arrive as an event.
import type { DaemonEvent } from "../api/index.ts";

export async function* readEvents(body: ReadableStream<Uint8Array>, onSubscribed?: () => void): AsyncGenerator<DaemonEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const lines = block.split("\n");
        if (lines.includes(": subscribed")) onSubscribed?.();
        const data = lines
          .filter((l) => l.startsWith("data:"))
          .map((l) => l.slice(5).replace(/^ /, ""))
          .join("\n");
        if (data) yield JSON.parse(data) as DaemonEvent;
      }
    }
  } finally {
    reader.releaseLock();
  }
}
