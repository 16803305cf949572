// Out of file descriptors, told apart from a bug: EMFILE (this process is at its limit, the
// soft `ulimit -n` or the unit's LimitNOFILE) or ENFILE (the whole system is at its limit).
// Neither is the client's fault nor the daemon's: the request is refused with a 503 that names
// the limit, nothing of it is kept, and it can be sent again once descriptors are free.
import { readFileSync } from "node:fs";
import { TooManyOpenFilesError } from "../../errors.ts";

export function isOutOfFds(err: unknown): "EMFILE" | "ENFILE" | undefined {
  const e = err as { code?: unknown; message?: unknown } | undefined;
  if (e?.code === "EMFILE" || e?.code === "ENFILE") return e.code;
  const m = typeof e?.message === "string" ? /\b(EMFILE|ENFILE)\b/.exec(e.message) : null;
  return (m?.[1] as "EMFILE" | "ENFILE" | undefined) ?? undefined;
}

export interface FdLimits {
  /** This process's soft limit on open files. */
  process?: number;
  /** The system's limit on open files (fs.file-max). */
  system?: number;
}

/**
 * Read while descriptors are still free (at start): once they have run out, the files that
 * tell the limits cannot be opened either. Linux only; elsewhere the message goes without.
 */
export function readFdLimits(): FdLimits {
  const read = (path: string) => {
    try {
      return readFileSync(path, "utf8");
    } catch {
      return "";
    }
  };
  const soft = /^Max open files\s+(\d+)/m.exec(read("/proc/self/limits"))?.[1];
  const system = /^(\d+)/.exec(read("/proc/sys/fs/file-max"))?.[1];
  return { process: soft ? Number(soft) : undefined, system: system ? Number(system) : undefined };
}

/** The 503 for an EMFILE or ENFILE met while serving a request. */
export function outOfFdsError(kind: "EMFILE" | "ENFILE", limits: FdLimits): TooManyOpenFilesError {
  if (kind === "ENFILE")
    return new TooManyOpenFilesError(
      `The system has no file descriptor left (ENFILE${limits.system ? `: its limit is ${limits.system} open files, fs.file-max` : ""}); nothing of this request was kept. Try again once other programs close files, or raise fs.file-max.`,
    );
  return new TooManyOpenFilesError(
    `The daemon is at its limit of ${limits.process ?? "its"} open files (EMFILE; the soft "ulimit -n", or LimitNOFILE= for a service); nothing of this request was kept. Stop recordings that are done, or raise the limit, then try again.`,
  );
}
