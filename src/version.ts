import pkg from "../package.json" with { type: "json" };

// Replaced at build time by `bun build --define` (scripts/compile.ts); absent when running from source.
declare const NCD_BUILD_COMMIT: string | undefined;
declare const NCD_BUILD_DATE: string | undefined;
declare const NCD_BUILD_TARGET: string | undefined;

export const VERSION: string = pkg.version;
export const COMMIT: string = typeof NCD_BUILD_COMMIT === "string" ? NCD_BUILD_COMMIT : "source";
export const MAJOR = Number(VERSION.split(".")[0]);

export interface VersionInfo {
  version: string;
  commit: string;
  /** The built commit's time; null when running from source. */
  build_date: string | null;
  /** Release target name (linux-x64, linux-arm64, darwin-arm64, ...). */
  target: string;
  /** The JavaScript runtime inside, e.g. "bun 1.4.5". */
  runtime: string;
}

export function versionInfo(): VersionInfo {
  const g = globalThis as { Bun?: { version: string }; Deno?: { version: { deno: string } }; process?: { platform: string; arch: string } };
  const os = g.process?.platform === "win32" ? "windows" : (g.process?.platform ?? "unknown");
  return {
    version: VERSION,
    commit: COMMIT,
    build_date: typeof NCD_BUILD_DATE === "string" ? NCD_BUILD_DATE : null,
    target: typeof NCD_BUILD_TARGET === "string" ? NCD_BUILD_TARGET : `${os}-${g.process?.arch ?? "unknown"}`,
    runtime: g.Bun ? `bun ${g.Bun.version}` : g.Deno ? `deno ${g.Deno.version.deno}` : "unknown",
  };
}
