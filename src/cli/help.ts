// `--help` for people: wrapped to the terminal's width (80 columns when stdout is not a
// terminal), no trailing blanks, and the full command name (`nc-data-daemon record start`) in
// the USAGE line. citty's own renderer pads every option to the longest description, which an
// 80-column terminal wraps mid-word.
import type { ArgDef, ArgsDef } from "citty";
import type { Command } from "./command.ts";

export const HELP_WIDTH = 80;
/** Below this, a terminal is too narrow to be worth following. */
const MIN_WIDTH = 40;
const LABEL_MAX = 30;

async function resolve<T>(x: T | Promise<T> | (() => T | Promise<T>)): Promise<T> {
  return typeof x === "function" ? await (x as () => T | Promise<T>)() : await x;
}

/** Words of `text` in lines of at most `width` columns (a longer word is cut). */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  const words = text.split(/\s+/).flatMap((w) => (w.length > width ? (w.match(new RegExp(`.{1,${width}}`, "g")) ?? []) : w ? [w] : []));
  for (const word of words) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/** A shell example split at spaces outside single quotes, continued with ` \`. */
function wrapExample(example: string, width: number): string[] {
  const words = example.match(/(?:'[^']*'|[^\s'])+/g) ?? [example];
  const lines: string[] = [];
  let line = "";
  for (const word of words) {
    if (line && line.length + 1 + word.length + 2 > width) {
      lines.push(`${line} \\`);
      line = `  ${word}`;
    } else line = line ? `${line} ${word}` : word;
  }
  lines.push(line);
  return lines;
}

/** Two columns, label and text; a label too long for its column puts its text on the next line. */
function columns(rows: [string, string][], width: number): string[] {
  const labelWidth = Math.min(LABEL_MAX, Math.max(...rows.map(([l]) => l.length)));
  const textCol = 2 + labelWidth + 2;
  const narrow = width - textCol < 40;
  const indent = narrow ? 6 : textCol;
  const out: string[] = [];
  for (const [label, text] of rows) {
    const body = wrap(text, width - indent);
    if (narrow || label.length > labelWidth) {
      out.push(`  ${label}`);
      for (const l of body) out.push(`${" ".repeat(indent)}${l}`);
    } else {
      const [first = "", ...rest] = body;
      out.push(`  ${label.padEnd(labelWidth)}  ${first}`.trimEnd());
      for (const l of rest) out.push(`${" ".repeat(indent)}${l}`);
    }
  }
  return out;
}

function valueHint(name: string, d: ArgDef): string {
  if (d.type === "boolean" || d.type === "positional") return "";
  if (d.type === "enum" && d.options?.length) return `=<${d.options.join("|")}>`;
  return `=<${d.valueHint ?? name}>`;
}

/** The help text of `cmd`, whose full name (program and subcommands) is `name`. */
export async function renderHelp(cmd: Command, name: string, columnsWanted: number = HELP_WIDTH): Promise<string> {
  const width = Math.max(MIN_WIDTH, columnsWanted);
  const meta = await resolve(cmd.meta ?? {});
  const args = (await resolve(cmd.args ?? {})) as ArgsDef;
  const subs = await resolve(cmd.subCommands ?? {});
  const positional: [string, string][] = [];
  const options: [string, string][] = [];
  const usage = [name];
  for (const [arg, d] of Object.entries(args)) {
    if (d.type === "positional") {
      const required = d.required !== false && d.default === undefined;
      positional.push([arg.toUpperCase(), d.description ?? ""]);
      usage.push(required ? `<${arg.toUpperCase()}>` : `[${arg.toUpperCase()}]`);
      continue;
    }
    const required = "required" in d && d.required === true;
    const label = `--${arg}${valueHint(arg, d)}`;
    options.push([label, `${d.description ?? ""}${required ? " (required)" : ""}`]);
    if (d.type === "boolean" && (d as { negativeDescription?: string }).negativeDescription)
      options.push([`--no-${arg}`, (d as { negativeDescription?: string }).negativeDescription!]);
    if (required) usage.push(`${label}`);
  }
  const commands: [string, string][] = [];
  for (const [sub, def] of Object.entries(subs)) {
    const subMeta = await resolve(((await resolve(def)) as Command).meta ?? {});
    if (!subMeta.hidden) commands.push([sub, subMeta.description ?? ""]);
  }
  if (commands.length) usage.push("<command>");
  if (options.length) usage.push("[OPTIONS]");
  const version = meta.version ? ` (version ${meta.version})` : "";
  const lines = [
    ...wrap(`${meta.description ?? ""}${version}`, width),
    "",
    "USAGE",
    ...wrap(usage.join(" "), width - 2).map((l, i) => `${i ? "    " : "  "}${l}`),
  ];
  if (positional.length) lines.push("", "ARGUMENTS", ...columns(positional, width));
  if (options.length) lines.push("", "OPTIONS", ...columns(options, width));
  if (commands.length) lines.push("", "COMMANDS", ...columns(commands, width), "", ...wrap(`Run "${name} <command> --help" for a command's options.`, width));
  const examples = (cmd.examples ?? []).flatMap((e) => wrapExample(e, width - 2).map((l) => `  ${l}`));
  if (examples.length) lines.push("", "Examples:", ...examples);
  return lines.map((l) => l.trimEnd()).join("\n");
}
