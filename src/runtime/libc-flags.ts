// open(2) and flock(2) constants for the two platforms the daemon runs on. Neither Bun nor
// Deno exposes a non-blocking flock, so both adapters call libc through their FFI.
const darwin = process.platform === "darwin";

export const LIBC = darwin ? "libSystem.B.dylib" : "libc.so.6";
export const O_RDWR = 0x2;
export const O_CREAT = darwin ? 0x200 : 0x40;
/** The lock fd must not leak into processes the daemon starts, or they would keep the lock. */
export const O_CLOEXEC = darwin ? 0x1000000 : 0x80000;
export const LOCK_EX = 2;
export const LOCK_NB = 4;

export const cString = (s: string) => new TextEncoder().encode(`${s}\0`);
