// Reads a text/event-stream body into daemon events (the data line is the event as JSON).
import type { DaemonEvent } from "../api/index.ts";

export async function* readEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<DaemonEvent> {
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
        const data = block
          .split("\n")
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
