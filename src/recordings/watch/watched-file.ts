// Reading a file from a watched folder, which may belong to another user and be written while
// it is read. It is opened O_NOFOLLOW|O_NONBLOCK (a link fails, a FIFO opens at once) and must
// be a regular file by fstat; every read goes through that descriptor, and a read counts only
// if, at its end, the descriptor and the path still show the same file, size and mtime.
import { lstatSync, type BigIntStats } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { createHash } from "node:crypto";
import { O_NOFOLLOW, O_NONBLOCK, O_RDONLY } from "../../runtime/libc-flags.ts";

/** Not a regular file (a link, a FIFO, a socket, a device): never read. */
export class NotRegularFile extends Error {}
/** Truncated, replaced or appended while it was read: tried again once it settles. */
export class FileChanged extends Error {}
/** The daemon began to stop during the read: the next start goes on from the watched row. */
export class ReadStopped extends Error {}

interface FileVersion {
  size: number;
  mtimeNs: string;
  dev: string;
  ino: string;
}

const versionOf = (s: BigIntStats): FileVersion => ({ size: Number(s.size), mtimeNs: String(s.mtimeNs), dev: String(s.dev), ino: String(s.ino) });
const same = (a: FileVersion, b: FileVersion) => a.size === b.size && a.mtimeNs === b.mtimeNs && a.dev === b.dev && a.ino === b.ino;
const CHUNK = 1 << 20;

export interface WatchedFile {
  path: string;
  version: FileVersion;
  handle: FileHandle;
  /** Throws FileChanged unless the descriptor and the path still show the version opened. */
  checkUnchanged(what: string): Promise<void>;
  /** sha256 of the whole file, read through the descriptor, then checkUnchanged. */
  hash(): Promise<string>;
  /** The file's bytes as a stream that fails with FileChanged at its end if the file changed. */
  stream(): ReadableStream<Uint8Array>;
  close(): Promise<void>;
}

export async function openWatched(path: string, signal?: AbortSignal): Promise<WatchedFile> {
  let handle: FileHandle;
  try {
    handle = await open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ELOOP" || code === "EMLINK") throw new NotRegularFile(`${path} is a symbolic link`);
    throw err;
  }
  try {
    const st = await handle.stat({ bigint: true });
    if (!st.isFile()) throw new NotRegularFile(`${path} is not a regular file (${st.isFIFO() ? "a FIFO" : st.isDirectory() ? "a folder" : "a special file"})`);
    const version = versionOf(st);
    const checkUnchanged = async (what: string) => {
      const now = versionOf(await handle.stat({ bigint: true }));
      let atPath: FileVersion | undefined;
      try {
        atPath = versionOf(lstatSync(path, { bigint: true }));
      } catch {
        atPath = undefined;
      }
      if (!same(version, now)) throw new FileChanged(`${path} changed while it was ${what} (size ${version.size} -> ${now.size}): truncated or appended to`);
      if (!atPath || !same(version, atPath)) throw new FileChanged(`${path} was ${atPath ? "replaced" : "removed"} while it was ${what}`);
    };
    return {
      path,
      version,
      handle,
      checkUnchanged,
      async hash() {
        const h = createHash("sha256");
        const buf = Buffer.alloc(CHUNK);
        for (let pos = 0; ; ) {
          if (signal?.aborted) throw new ReadStopped(`${path}: reading stopped, the daemon is stopping`);
          const { bytesRead } = await handle.read(buf, 0, CHUNK, pos);
          if (bytesRead === 0) break;
          h.update(buf.subarray(0, bytesRead));
          pos += bytesRead;
        }
        await checkUnchanged("read");
        return h.digest("hex");
      },
      stream() {
        let pos = 0;
        return new ReadableStream<Uint8Array>({
          async pull(controller) {
            try {
              if (signal?.aborted) throw new ReadStopped(`${path}: copying stopped, the daemon is stopping`);
              const buf = Buffer.alloc(CHUNK);
              const { bytesRead } = await handle.read(buf, 0, CHUNK, pos);
              if (bytesRead === 0) {
                await checkUnchanged("copied");
                controller.close();
                return;
              }
              pos += bytesRead;
              controller.enqueue(new Uint8Array(buf.buffer, buf.byteOffset, bytesRead));
            } catch (err) {
              controller.error(err);
            }
          },
        });
      },
      close: () => handle.close(),
    };
  } catch (err) {
    await handle.close();
    throw err;
  }
}
