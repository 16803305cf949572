// open(2) and flock(2) constants for the two platforms the daemon runs on. Neither Bun nor
// Deno exposes a non-blocking flock, so both adapters call libc through their FFI.
const darwin = process.platform === "darwin";
/** arm64 Linux has its own fcntl.h: O_DIRECTORY and O_NOFOLLOW take the values x86-64 gives
 * O_DIRECT and O_LARGEFILE there, so x86-64's would open folders with O_DIRECT (EINVAL) and
 * follow links. The other flags are the same on both. */
const arm64Linux = !darwin && process.arch === "arm64";

export const LIBC = darwin ? "libSystem.B.dylib" : "libc.so.6";
export const O_RDWR = 0x2;
export const O_CREAT = darwin ? 0x200 : 0x40;
/** The lock fd must not leak into processes the daemon starts, or they would keep the lock. */
export const O_CLOEXEC = darwin ? 0x1000000 : 0x80000;
export const O_WRONLY = 0x1;
export const O_TRUNC = darwin ? 0x400 : 0x200;
/** open(2) fails with ELOOP when the last component is a symbolic link. */
export const O_NOFOLLOW = darwin ? 0x100 : arm64Linux ? 0x8000 : 0x20000;
/** With O_CREAT: fails with EEXIST when anything (a file, a link, a FIFO) has the name. */
export const O_EXCL = darwin ? 0x800 : 0x80;
/** A FIFO another user planted opens (or fails) at once instead of waiting for a reader. */
export const O_NONBLOCK = darwin ? 0x4 : 0x800;
/** open(2) fails with ENOTDIR unless the path is a folder (and never blocks on a FIFO). */
export const O_DIRECTORY = darwin ? 0x100000 : arm64Linux ? 0x4000 : 0x10000;
export const O_RDONLY = 0x0;
/** Every write goes to the end of the file, whatever the offset. */
export const O_APPEND = darwin ? 0x8 : 0x400;
const LOCK_EX = 2;
const LOCK_NB = 4;

const cString = (s: string) => new TextEncoder().encode(`${s}\0`);

/** The three libc calls the lock needs, however the runtime's FFI reaches them. */
export type LockLibc = { open(p: Uint8Array, flags: number, mode: number): number; flock(fd: number, op: number): number; close(fd: number): number };

/** Takes an exclusive, non-blocking flock on `path`; null when another process holds it. */
export function flockFile(c: LockLibc, path: string): { release(): void } | null {
  const fd = c.open(cString(path), O_RDWR | O_CREAT | O_CLOEXEC, 0o600);
  if (fd < 0) throw new Error(`cannot open lock file ${path}`);
  if (c.flock(fd, LOCK_EX | LOCK_NB) !== 0) {
    c.close(fd);
    return null;
  }
  let held = true;
  return {
    release() {
      if (held) c.close(fd);
      held = false;
    },
  };
}

/** setpriority(2)'s `which` for one process, or on Linux one thread: `who` 0 is the calling thread there. */
export const PRIO_PROCESS = 0;
/**
 * Only Linux keeps a nice value per thread: elsewhere setpriority(PRIO_PROCESS, 0) would lower
 * the whole process, request thread included, so it is not called there.
 */
export const perThreadNice = process.platform === "linux";
