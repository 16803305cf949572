import pkg from "../package.json" with { type: "json" };

// Replaced at build time by `bun build --define`; absent when running from source.
declare const NCD_BUILD_COMMIT: string | undefined;

export const VERSION: string = pkg.version;
export const COMMIT: string = typeof NCD_BUILD_COMMIT === "string" ? NCD_BUILD_COMMIT : "source";
export const MAJOR = Number(VERSION.split(".")[0]);
