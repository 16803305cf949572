// What the writers of the chaos and power-cut runs sent and what the daemon acknowledged, and
// the check that a store (or a target) holds every acknowledged item, whole, exactly once.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { encodeFrames } from "../../src/client/frames.ts";
import { call, postNdjson, readRecording, text } from "../system/harness.ts";

interface Msg {
  w: string;
  b: number;
  k: number;
  pad: string;
}

export type LedgerEvent =
  | { ev: "sent" | "acked"; id: string; key: string; size: number }
  | { ev: "fileSent" | "fileAcked"; id: string; name: string; sha: string; bytes: number }
  | { ev: "refused" }
  | { ev: "recording" | "stopped"; id: string };

/** An answer that is neither an acknowledgement nor a 507 (a 5xx while the power goes, say). */
export class Unacknowledged extends Error {}

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

export class Ledger {
  /** recording id -> batch key ("w:b") -> message count, for every batch sent / acknowledged. */
  sent = new Map<string, Map<string, number>>();
  acked = new Map<string, Map<string, number>>();
  /** recording id -> file name -> sha256 of what was sent / acknowledged. */
  filesSent = new Map<string, Map<string, string>>();
  filesAcked = new Map<string, Map<string, string>>();
  /** "recording id/file name" -> size of what was sent, to say how a file that differs differs. */
  fileSizes = new Map<string, number>();
  /** Items refused with 507 (storage full): reported, never acknowledged. */
  refused = 0;

  constructor(private readonly emit?: (e: LedgerEvent) => void) {}

  /** Replays an event a writer process printed. */
  apply(e: LedgerEvent): void {
    if (e.ev === "sent") this.of(this.sent, e.id).set(e.key, e.size);
    else if (e.ev === "acked") this.of(this.acked, e.id).set(e.key, e.size);
    else if (e.ev === "fileSent") {
      this.of(this.filesSent, e.id).set(e.name, e.sha);
      this.fileSizes.set(`${e.id}/${e.name}`, e.bytes);
    } else if (e.ev === "fileAcked") this.of(this.filesAcked, e.id).set(e.name, e.sha);
    else if (e.ev === "refused") this.refused++;
  }

  private note(e: LedgerEvent) {
    this.apply(e);
    this.emit?.(e);
  }

  private of<T>(m: Map<string, Map<string, T>>, id: string) {
    if (!m.has(id)) m.set(id, new Map());
    return m.get(id)!;
  }

  /** Sends one batch (NDJSON or binary frames); true when acknowledged. Throws on an answer that is neither 200 nor 507. */
  async sendBatch(socket: string, id: string, w: string, b: number, framed: boolean): Promise<boolean> {
    const size = 20 + ((b * 37) % 120);
    const msgs: Msg[] = Array.from({ length: size }, (_, k) => ({ w, b, k, pad: Math.random().toString(36).repeat(3) }));
    const key = `${w}:${b}`;
    this.note({ ev: "sent", id, key, size });
    const r = framed
      ? await call(
          socket,
          "POST",
          `/v1/recordings/${id}/messages`,
          encodeFrames(msgs.map((m) => ({ trace: `/w/${w}`, timestampNs: BigInt(b * 1000 + m.k), payload: new TextEncoder().encode(JSON.stringify(m)) }))),
          {
            "content-type": "application/vnd.ncd.frames",
          },
        )
      : await postNdjson(
          socket,
          id,
          msgs.map((m) => ({ trace: `/w/${w}`, timestamp_ns: String(b * 1000 + m.k), data: m })),
        );
    if (r.status === 507) {
      this.note({ ev: "refused" });
      return false;
    }
    if (r.status !== 200) throw new Unacknowledged(`batch ${key}: ${r.status} ${JSON.stringify(r.body)}`);
    this.note({ ev: "acked", id, key, size });
    return true;
  }

  /** PUTs one file of random bytes; true when acknowledged (201). */
  async sendFile(socket: string, id: string, name: string, bytes: Uint8Array): Promise<boolean> {
    const sha = sha256(bytes);
    this.note({ ev: "fileSent", id, name, sha, bytes: bytes.byteLength });
    const r = await call(socket, "PUT", `/v1/recordings/${id}/files/${name}`, bytes);
    if (r.status === 507) {
      this.note({ ev: "refused" });
      return false;
    }
    if (r.status !== 201) throw new Unacknowledged(`file ${name}: ${r.status} ${JSON.stringify(r.body)}`);
    if (r.body.sha256 !== sha || r.body.bytes !== bytes.byteLength) throw new Error(`file ${name}: acknowledged with ${JSON.stringify(r.body)}`);
    this.note({ ev: "fileAcked", id, name, sha, bytes: bytes.byteLength });
    return true;
  }

  ackedMessages(): number {
    let n = 0;
    for (const m of this.acked.values()) for (const c of m.values()) n += c;
    return n;
  }

  ackedFiles(): number {
    let n = 0;
    for (const m of this.filesAcked.values()) n += m.size;
    return n;
  }

  /** Problems of one recording's messages (in the order stored) against what was sent and acknowledged. */
  checkMessages(id: string, got: { topic: string; data: Uint8Array }[], tally: Tally): string[] {
    const problems: string[] = [];
    const perBatch = new Map<string, number[]>();
    for (const raw of got) {
      const m = JSON.parse(text(raw.data)) as Msg;
      const key = `${m.w}:${m.b}`;
      perBatch.set(key, [...(perBatch.get(key) ?? []), m.k]);
      if (raw.topic !== `/w/${m.w}`) problems.push(`${id}: message of ${key} on ${raw.topic}`);
      tally.bytes += raw.data.byteLength;
    }
    const sent = this.sent.get(id) ?? new Map<string, number>();
    for (const [key, ks] of perBatch) {
      const want = sent.get(key);
      if (want === undefined) {
        problems.push(`${id}: batch ${key} was never sent`);
        tally.corrupted++;
      } else if (ks.length > want && ks.length % want === 0) {
        problems.push(`${id}: batch ${key} stored ${ks.length / want} times`);
        tally.duplicated++;
      } else if (ks.length !== want || ks.some((k, i) => k !== i)) {
        problems.push(`${id}: batch ${key} has ${ks.length} of ${want} messages or is out of order`);
        tally.corrupted++;
      }
    }
    for (const key of (this.acked.get(id) ?? new Map()).keys()) {
      if (!perBatch.has(key)) {
        problems.push(`${id}: acknowledged batch ${key} lost`);
        tally.lost++;
      }
    }
    tally.messages += got.length;
    return problems;
  }

  /** Problems of one recording's files: `read` gives a file's bytes (undefined when absent). */
  async checkFiles(id: string, read: (name: string) => Promise<Uint8Array | undefined>, tally: Tally): Promise<string[]> {
    const problems: string[] = [];
    for (const [name, sha] of this.filesAcked.get(id) ?? new Map<string, string>()) {
      const bytes = await read(name);
      if (!bytes) {
        problems.push(`${id}: acknowledged file ${name} lost`);
        tally.lost++;
      } else if (sha256(bytes) !== sha) {
        problems.push(
          `${id}: file ${name} differs from what was acknowledged (${bytes.byteLength} bytes held, ${this.fileSizes.get(`${id}/${name}`)} acknowledged)`,
        );
        tally.corrupted++;
      } else tally.bytes += bytes.byteLength;
    }
    return problems;
  }

  recordings(): string[] {
    return [...new Set([...this.sent.keys(), ...this.filesSent.keys()])];
  }

  /**
   * Checks the local store of a running daemon: returns a list of problems (empty when every
   * acknowledged batch and file is there, whole, once, and the database agrees with the disk).
   */
  async verifyLocal(socket: string, store: string): Promise<{ problems: string[]; messages: number; fileBytes: number }> {
    const problems: string[] = [];
    const tally = newTally();
    let fileBytes = 0;
    // The recordings routes answer once the start-up repair is done; until then it may still
    // remove an unacknowledged segment this check would be reading.
    await call(socket, "GET", "/v1/recordings?limit=1");
    for (const id of this.recordings()) {
      const got = readRecording(store, id);
      problems.push(...this.checkMessages(id, got, tally));
      const detail = (await call(socket, "GET", `/v1/recordings/${id}`)).body;
      if (detail.message_count !== got.length) problems.push(`${id}: database counts ${detail.message_count} messages, segments hold ${got.length}`);
      const listed = new Map<string, { sha256: string; bytes: number }>(
        (detail.files ?? []).map((f: { name: string; sha256: string; bytes: number }) => [f.name, f]),
      );
      for (const [name, sha] of this.filesAcked.get(id) ?? new Map()) {
        const f = listed.get(name);
        if (!f) problems.push(`${id}: acknowledged file ${name} not listed`);
        else if (f.sha256 !== sha) problems.push(`${id}: file ${name} listed with another sha256`);
      }
      for (const [name, f] of listed) {
        if (this.filesSent.get(id)?.get(name) !== f.sha256) problems.push(`${id}: listed file ${name} is not what was sent`);
      }
      const before = tally.bytes;
      problems.push(
        ...(await this.checkFiles(
          id,
          async (name) => {
            try {
              return readFileSync(join(store, id, "files", name));
            } catch {
              return undefined;
            }
          },
          tally,
        )),
      );
      fileBytes += tally.bytes - before;
    }
    return { problems, messages: tally.messages, fileBytes };
  }
}

export interface Tally {
  messages: number;
  bytes: number;
  lost: number;
  corrupted: number;
  duplicated: number;
}

export const newTally = (): Tally => ({ messages: 0, bytes: 0, lost: 0, corrupted: 0, duplicated: 0 });
