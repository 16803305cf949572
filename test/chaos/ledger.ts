// What the writers of the chaos and power-cut runs sent and what the daemon acknowledged, and
// the check that a store (or a target) holds every acknowledged item, whole, exactly once.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { encodeFrames } from "../../src/client/frames.ts";
import { call, postNdjson, readRecording, text } from "../system/harness.ts";

export interface Msg {
  w: string;
  b: number;
  k: number;
  pad: string;
}

export const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

export class Ledger {
  /** recording id -> batch key ("w:b") -> message count, for every batch sent / acknowledged. */
  sent = new Map<string, Map<string, number>>();
  acked = new Map<string, Map<string, number>>();
  /** recording id -> file name -> sha256 of what was sent / acknowledged. */
  filesSent = new Map<string, Map<string, string>>();
  filesAcked = new Map<string, Map<string, string>>();
  /** Items refused with 507 (storage full): reported, never acknowledged. */
  refused = 0;

  private of<T>(m: Map<string, Map<string, T>>, id: string) {
    if (!m.has(id)) m.set(id, new Map());
    return m.get(id)!;
  }

  /** Sends one batch (NDJSON or binary frames); true when acknowledged. Throws on an answer that is neither 200 nor 507. */
  async sendBatch(socket: string, id: string, w: string, b: number, framed: boolean): Promise<boolean> {
    const size = 20 + ((b * 37) % 120);
    const msgs: Msg[] = Array.from({ length: size }, (_, k) => ({ w, b, k, pad: Math.random().toString(36).repeat(3) }));
    const key = `${w}:${b}`;
    this.of(this.sent, id).set(key, size);
    const r = framed
      ? await call(socket, "POST", `/v1/recordings/${id}/messages`, encodeFrames(msgs.map((m) => ({ trace: `/w/${w}`, timestampNs: BigInt(b * 1000 + m.k), payload: new TextEncoder().encode(JSON.stringify(m)) }))), {
          "content-type": "application/vnd.ncd.frames",
        })
      : await postNdjson(socket, id, msgs.map((m) => ({ trace: `/w/${w}`, timestamp_ns: String(b * 1000 + m.k), data: m })));
    if (r.status === 507) {
      this.refused++;
      return false;
    }
    if (r.status !== 200) throw new Error(`batch ${key}: ${r.status} ${JSON.stringify(r.body)}`);
    this.of(this.acked, id).set(key, size);
    return true;
  }

  /** PUTs one file of random bytes; true when acknowledged (201). */
  async sendFile(socket: string, id: string, name: string, bytes: Uint8Array): Promise<boolean> {
    this.of(this.filesSent, id).set(name, sha256(bytes));
    const r = await call(socket, "PUT", `/v1/recordings/${id}/files/${name}`, bytes);
    if (r.status === 507) {
      this.refused++;
      return false;
    }
    if (r.status !== 201) throw new Error(`file ${name}: ${r.status} ${JSON.stringify(r.body)}`);
    if (r.body.sha256 !== sha256(bytes) || r.body.bytes !== bytes.byteLength) throw new Error(`file ${name}: acknowledged with ${JSON.stringify(r.body)}`);
    this.of(this.filesAcked, id).set(name, sha256(bytes));
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

  /**
   * Checks the local store of a running daemon: returns a list of problems (empty when every
   * acknowledged batch and file is there, whole, once, and the database agrees with the disk).
   */
  async verifyLocal(socket: string, store: string): Promise<{ problems: string[]; messages: number; fileBytes: number }> {
    const problems: string[] = [];
    let messages = 0;
    let fileBytes = 0;
    for (const id of new Set([...this.sent.keys(), ...this.filesSent.keys()])) {
      const got = readRecording(store, id).map((m) => ({ topic: m.topic, ...(JSON.parse(text(m.data)) as Msg) }));
      const perBatch = new Map<string, number[]>();
      for (const m of got) {
        const key = `${m.w}:${m.b}`;
        perBatch.set(key, [...(perBatch.get(key) ?? []), m.k]);
        if (m.topic !== `/w/${m.w}`) problems.push(`${id}: message of ${key} on ${m.topic}`);
      }
      const sent = this.sent.get(id) ?? new Map();
      for (const [key, ks] of perBatch) {
        const want = sent.get(key);
        if (want === undefined) problems.push(`${id}: batch ${key} was never sent`);
        else if (ks.length !== want || ks.some((k, i) => k !== i)) problems.push(`${id}: batch ${key} has ${ks.length} of ${want} messages or is out of order/duplicated`);
      }
      for (const key of (this.acked.get(id) ?? new Map()).keys()) if (!perBatch.has(key)) problems.push(`${id}: acknowledged batch ${key} lost`);
      messages += got.length;
      const detail = (await call(socket, "GET", `/v1/recordings/${id}`)).body;
      if (detail.message_count !== got.length) problems.push(`${id}: database counts ${detail.message_count} messages, segments hold ${got.length}`);
      const listed = new Map<string, { sha256: string; bytes: number }>((detail.files ?? []).map((f: { name: string; sha256: string; bytes: number }) => [f.name, f]));
      for (const [name, sha] of this.filesAcked.get(id) ?? new Map()) {
        const f = listed.get(name);
        if (!f) problems.push(`${id}: acknowledged file ${name} not listed`);
        else if (f.sha256 !== sha) problems.push(`${id}: file ${name} listed with another sha256`);
        let onDisk: Uint8Array | undefined;
        try {
          onDisk = readFileSync(join(store, id, "files", name));
        } catch {
          problems.push(`${id}: acknowledged file ${name} lost from disk`);
        }
        if (onDisk && sha256(onDisk) !== sha) problems.push(`${id}: file ${name} on disk differs from what was acknowledged`);
        if (onDisk) fileBytes += onDisk.byteLength;
      }
      for (const [name, f] of listed) {
        const sha = this.filesSent.get(id)?.get(name);
        if (sha !== f.sha256) problems.push(`${id}: listed file ${name} is not what was sent`);
      }
    }
    return { problems, messages, fileBytes };
  }
}
