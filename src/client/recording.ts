// The SDK's recording handle: log() buffers messages and sends them in batches (by count,
// bytes or age), because one request per message would cost a round trip and an fsync each.
// Batches are sent one after another, so the daemon stores messages in the order logged; a
// batch that fails is reported by the next call (log, flush or stop), since log() itself only
// buffers. One batch is in flight while the next fills: the script's own work then overlaps the
// daemon's, and the next batch is already there when the daemon acknowledges the last.
import type { RecordingDetail, StoredFile } from "../api/contract.ts";
import type { DaemonClient } from "./client.ts";
import { ensureDaemon, type EnsureOptions } from "./ensure.ts";
import { FrameBatch } from "./frames.ts";
import { waitForUpload, type WaitOptions } from "./follow.ts";
import { recordingsApi } from "./recordings-api.ts";
import type { SdkCreateRecordingInput } from "./trace-declarations.ts";
import { ValidationError } from "../errors.ts";
import { compressedImage, isImageTrace, type ImageOptions } from "./image.ts";

export interface BatchOptions {
  /** Send once this many messages are buffered. Default 1000. */
  maxMessages?: number;
  /** Send once the buffered body reaches this many bytes (JSON lines count their characters: bytes for ASCII). Default 1 MiB. */
  maxBytes?: number;
  /** Send a buffered message at the latest this long after it was logged. Default 100 ms. */
  maxDelayMs?: number;
}

export interface StartOptions extends SdkCreateRecordingInput, BatchOptions {
  /** How to reach or start the daemon; a client given here is used as is. */
  daemon?: EnsureOptions;
  client?: DaemonClient;
}

const BUFFERED = Promise.resolve();
const nowSeconds = () => Date.now() / 1000;
// JSON.rawJSON (ES2026; in Bun and Deno) is not in our type set yet.
const rawJson = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;
const bigintAsDigits = (_key: string, v: unknown) => (typeof v === "bigint" ? rawJson(v.toString()) : v);

/**
 * The JSON text of a message's data. A bigint is written as its digits (a uint64 counter or a
 * nanosecond stamp stays exact: the daemon stores the text as sent), and a JSON.rawJSON("0.0")
 * value as its text; the replacer that does it runs only for data that holds a bigint.
 */
function dataJson(data: unknown): string | undefined {
  try {
    return JSON.stringify(data);
  } catch (err) {
    if (!(err instanceof TypeError)) throw err;
    return JSON.stringify(data, bigintAsDigits);
  }
}

export class Recording {
  readonly id: string;
  private readonly api;
  private readonly limits: Required<BatchOptions>;
  private kind: "ndjson" | "frames" | null = null;
  private lines: string[] = [];
  private readonly frames = new FrameBatch();
  /** Messages buffered, and their size. */
  private count = 0;
  private bytes = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private sending: Promise<void> = Promise.resolve();
  private failure: Error | null = null;
  /** The trace names seen, as JSON strings. */
  private traceJson = new Map<string, string>();

  constructor(
    readonly client: DaemonClient,
    readonly created: RecordingDetail,
    batch: BatchOptions = {},
  ) {
    this.id = created.id;
    this.api = recordingsApi(client);
    this.limits = { maxMessages: batch.maxMessages ?? 1000, maxBytes: batch.maxBytes ?? 1 << 20, maxDelayMs: batch.maxDelayMs ?? 100 };
  }

  /**
   * Buffers one JSON message; `timestamp` is seconds since the epoch (default now), sent as its
   * shortest decimal text. Numbers in `data` are stored as written here; give integers past
   * 2^53 as bigint.
   */
  log(trace: string, data: unknown, timestamp: number = nowSeconds()): Promise<void> {
    // The same text as JSON.stringify({ trace, timestamp, data }), without building that object
    // per message, and with each trace name serialised once.
    let json: string | undefined;
    try {
      json = dataJson(data);
    } catch (err) {
      return Promise.reject(err);
    }
    let name = this.traceJson.get(trace);
    if (name === undefined) this.traceJson.set(trace, (name = JSON.stringify(trace)));
    const line =
      json === undefined ? `${JSON.stringify({ trace, timestamp })}\n` : `{"trace":${name},"timestamp":${JSON.stringify(timestamp)},"data":${json}}\n`;
    const refused = this.begin("ndjson");
    if (refused) return refused;
    this.lines.push(line);
    // Counted in characters: bytes for ASCII, and within 3x of them otherwise, which is all a
    // batch size needs. With the line built directly, log() takes about a tenth less time here.
    return this.added(line.length);
  }

  /** Buffers one binary message (stored byte for byte); `timestamp` in seconds (default now). */
  logBinary(trace: string, payload: Uint8Array, timestamp: number = nowSeconds()): Promise<void> {
    const refused = this.begin("frames");
    if (refused) return refused;
    // Written into the batch's buffer at once; a timestamp that is not a number of seconds throws (nothing is buffered).
    return this.added(this.frames.add(trace, payload, timestamp));
  }

  /**
   * Buffers one camera image as foxglove.CompressedImage (Foxglove shows it); the trace must be
   * declared with imageTrace(name) at startRecording. `timestamp` in seconds (default now).
   */
  logImage(trace: string, data: Uint8Array, opts: ImageOptions & { timestamp?: number } = {}): Promise<void> {
    const declared = this.created.traces.find((t) => t.name === trace);
    if (!declared || !isImageTrace(declared)) {
      return Promise.reject(
        new ValidationError(
          `Trace ${JSON.stringify(trace)} is not declared as an image trace; declare it at startRecording with traces: [imageTrace(${JSON.stringify(trace)})].`,
          "trace",
        ),
      );
    }
    const timestamp = opts.timestamp ?? nowSeconds();
    return this.log(trace, compressedImage(data, timestamp, opts), timestamp);
  }

  /** Sends everything buffered and resolves once the daemon has it on disk. */
  async flush(): Promise<void> {
    this.sendBuffered();
    await this.sending;
    this.raise();
  }

  /** Streams a file into the recording (default name: the file's base name). */
  async addFile(path: string, name?: string): Promise<StoredFile> {
    this.raise();
    return this.api.putFile(this.id, path, name);
  }

  /**
   * Flushes, stops the recording and returns it. With `wait`, resolves once it is uploaded or
   * failed (or, with no upload target or offline, once it is finalized and waiting).
   */
  async stopRecording(opts: { wait?: boolean } & WaitOptions = {}): Promise<RecordingDetail> {
    await this.flush();
    const stopped = await this.api.stop(this.id);
    return opts.wait ? waitForUpload(this.client, this.id, opts) : stopped;
  }

  /**
   * Before a message is buffered: a failed batch is reported (as the returned promise), and
   * switching between JSON and binary sends what came before first, which keeps the order.
   * Not async, nor taking a closure: most calls only buffer, and this runs for every message.
   */
  private begin(kind: "ndjson" | "frames"): Promise<void> | undefined {
    try {
      this.raise();
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.kind && this.kind !== kind) this.sendBuffered();
    this.kind = kind;
    return undefined;
  }

  /** After a message of `size` bytes is buffered: sends the batch once it is full, or sets its timer. */
  private added(size: number): Promise<void> {
    this.bytes += size;
    if (++this.count >= this.limits.maxMessages || this.bytes >= this.limits.maxBytes) return this.sendFull();
    if (!this.timer) this.timer = setTimeout(() => this.sendBuffered(), this.limits.maxDelayMs);
    return BUFFERED;
  }

  /** Sends a full batch. Awaiting callers are slowed to the daemon's pace instead of buffering
   * without bound: the batch waits for the one before it, so at most one is in flight and one filling. */
  private async sendFull(): Promise<void> {
    const before = this.sending;
    this.sendBuffered();
    await before;
    this.raise();
  }

  private sendBuffered(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const kind = this.kind;
    this.kind = null;
    if (!kind || this.count === 0) return;
    let send: () => Promise<unknown>;
    if (kind === "ndjson") {
      const body = this.lines.join("");
      send = () => this.api.appendNdjson(this.id, body);
    } else {
      const body = this.frames.take();
      send = () => this.api.appendFrames(this.id, body);
    }
    this.lines = [];
    this.count = 0;
    this.bytes = 0;
    this.sending = this.sending.then(async () => {
      try {
        await send();
      } catch (err) {
        this.failure ??= err as Error;
      }
    });
  }

  /** Reports a failed batch once, to whichever call comes next. */
  private raise(): void {
    const err = this.failure;
    if (!err) return;
    this.failure = null;
    throw err;
  }
}

/** Starts the daemon when needed, creates a recording and returns its handle. */
export async function startRecording(opts: StartOptions = {}): Promise<Recording> {
  const { daemon, client: given, maxMessages, maxBytes, maxDelayMs, ...input } = opts;
  const client = given ?? (await ensureDaemon(daemon));
  const created = await recordingsApi(client).create(input);
  return new Recording(client, created, { maxMessages, maxBytes, maxDelayMs });
}
