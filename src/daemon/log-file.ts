// Appends lines to the daemon's log file and rotates it by size: daemon.log -> daemon.log.1
// -> ... -> daemon.log.<keep>, so a long-running daemon never fills the disk with logs.
import { closeSync, existsSync, fstatSync, openSync, renameSync, rmSync, writeSync } from "node:fs";

export interface LogFile {
  write(line: string): void;
  close(): void;
}

export function createLogFile(path: string, opts: { maxBytes: number; keep: number }): LogFile {
  let fd = openSync(path, "a", 0o600);
  let size = fstatSync(fd).size;
  const rotate = () => {
    rmSync(`${path}.${opts.keep}`, { force: true });
    for (let i = opts.keep - 1; i >= 1; i--) if (existsSync(`${path}.${i}`)) renameSync(`${path}.${i}`, `${path}.${i + 1}`);
    renameSync(path, `${path}.1`);
    // The old descriptor is closed only once the new one is open: a failed open (no inode
    // left) keeps logging into the renamed file rather than into a stale descriptor number.
    const next = openSync(path, "a", 0o600);
    closeSync(fd);
    fd = next;
    size = 0;
  };
  return {
    write(line) {
      const bytes = Buffer.from(line.endsWith("\n") ? line : `${line}\n`);
      // A log line that cannot be written (a full disk) is dropped: logging must never be
      // what fails a request, least of all the stop that is to free the disk.
      try {
        if (size > 0 && size + bytes.length > opts.maxBytes) rotate();
        writeSync(fd, bytes);
        size += bytes.length;
      } catch {
        // dropped
      }
    },
    close: () => closeSync(fd),
  };
}
