// The one table of the previous-vs-this suite: a row per measure, each side's figure (with its
// rounds' min-max where there are rounds), their ratio and which way is better.
import { quantile, table } from "./timing.ts";

export interface Row {
  measure: string;
  better: "higher" | "lower";
  /** previous, this */
  values: [number, number];
  show: (x: number) => string;
  /** Per-round figures of each side, shown as min-max: the noise figure. */
  spread?: [number[], number[]];
  /** A note after each side's figure, e.g. its quartiles. */
  notes?: [string, string];
}

export const num = (x: number) => Math.round(x).toLocaleString("en-US");
export const msf = (x: number) => `${x.toFixed(1)} ms`;
export const usf = (x: number) => `${(x * 1000).toFixed(0)} µs`;
export const pctf = (x: number) => `${x.toFixed(3)} %`;
export const best = (xs: number[]) => Math.max(...xs);
export const range = (xs: number[], show: (x: number) => string) => `${show(Math.min(...xs))}-${show(Math.max(...xs))}`;

/** A row of two sets of CLI wall times: the medians, each with its quartiles. */
export function medianRow(measure: string, samples: [number[], number[]]): Row {
  const q = samples.map((s) => {
    const sorted = [...s].sort((a, b) => a - b);
    return [0.25, 0.5, 0.75].map((p) => quantile(sorted, p)) as [number, number, number];
  });
  const note = (k: number) => `(p25-p75 ${msf(q[k]![0])}-${msf(q[k]![2])})`;
  return { measure, better: "lower", values: [q[0]![1], q[1]![1]], show: msf, notes: [note(0), note(1)] };
}

function cell(row: Row, i: 0 | 1): string {
  const parts = [row.show(row.values[i])];
  if (row.spread) parts.push(`(${range(row.spread[i], row.show)})`);
  if (row.notes) parts.push(row.notes[i]);
  return parts.join(" ");
}

export function comparisonTable(commits: [string, string], rows: Row[], extra: string[][] = []): string {
  const ratio = (r: Row) => (r.values[0] > 0 ? `${(r.values[1] / r.values[0]).toFixed(2)}×` : "—");
  return table(
    ["measure", `previous (${commits[0]})`, `this (${commits[1]})`, "this ÷ previous", "better is"],
    [...rows.map((r) => [r.measure, cell(r, 0), cell(r, 1), ratio(r), r.better]), ...extra],
  );
}
