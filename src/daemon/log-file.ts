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
    closeSync(fd);
    rmSync(`${path}.${opts.keep}`, { force: true });
    for (let i = opts.keep - 1; i >= 1; i--) if (existsSync(`${path}.${i}`)) renameSync(`${path}.${i}`, `${path}.${i + 1}`);
    renameSync(path, `${path}.1`);
    fd = openSync(path, "a", 0o600);
    size = 0;
  };
  return {
    write(line) {
      const bytes = Buffer.from(line.endsWith("\n") ? line : `${line}\n`);
      if (size > 0 && size + bytes.length > opts.maxBytes) rotate();
      try {
        writeSync(fd, bytes);
        size += bytes.length;
      } catch {
        // A full or failing disk: the line is lost, but logging must not turn the request that
        // logs (a 507 for a full disk, say) into an unhandled error page.
      }
    },
    close: () => closeSync(fd),
  };
}
