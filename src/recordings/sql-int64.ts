// Nanosecond times are u64 in MCAP and frames; SQLite integers are signed 64-bit. Times are
// bound as bigint (a JS number would round them) and read back with CAST(... AS TEXT).
const INT64_MAX = (1n << 63n) - 1n;

/** A u64 time as SQLite's integer (those past 2^63 - 1, year 2262, are clamped). */
export const sqlInt64 = (ns: bigint): bigint => (ns > INT64_MAX ? INT64_MAX : ns);
