// Help text laid out as the docker CLI lays it out (cobra's usage template in docker/cli's
// cli/cobra.go, flags by pflag's FlagUsagesWrapped): "Usage:  pier ps [OPTIONS]", the
// description, the aliases, then the flags sorted by name with their value type, or the
// subcommands of a management command. Commander's own help lists other words in another
// order, which is what a user who knows docker's help does not expect.

import { Option, type Command } from "commander";

/** Value types pflag prints after a flag, as docker names them. */
const DOCKER_TYPES = new Set(["int", "int64", "uint", "uint16", "uint64", "decimal", "bytes", "duration", "filter", "string", "strings", "list", "map", "stringArray", "float"]);

/** Flags whose docker type is not the placeholder's word (their own opts types in docker/cli). */
const TYPE_BY_FLAG: Record<string, string> = {
  "--mount": "mount",
  "--network": "network",
  "--ulimit": "ulimit",
  "--sysctl": "map",
  "--annotation": "map",
  "--gpus": "gpu-request",
  "--storage-opt": "list",
  "--log-opt": "list",
  "--opt": "map",
  "--label": "list",
};

const FORMAT_SHORT = "Format output using a custom template";
const FORMAT_REST =
  "'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\n" +
  "Refer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates";
const FORMAT_TABLE =
  "'table':            Print output in table format with column headers (default)\n" +
  "'table TEMPLATE':   Print output in table format using the given Go template\n";

/**
 * docker's long --format help: list commands (a --format without -f) take tables too; inspect,
 * info, version and events (-f, or events) print JSON or a template only.
 */
function formatUsage(cmd: Command, opt: Option): string {
  const tables = !opt.short && cmd.name() !== "events";
  return `${FORMAT_SHORT}:\n${tables ? FORMAT_TABLE : ""}${FORMAT_REST}`;
}

/** Leading top-level commands docker calls "Common Commands", in docker's order. */
const COMMON = ["run", "exec", "ps", "build", "pull", "push", "images", "login", "logout", "search", "version", "info"];

function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

function valueType(opt: Option): string {
  if (!opt.required && !opt.optional) return "";
  if (opt.long && TYPE_BY_FLAG[opt.long]) return TYPE_BY_FLAG[opt.long]!;
  const placeholder = /<([^>]+)>|\[([^\]]+)\]/.exec(opt.flags);
  const word = placeholder?.[1] ?? placeholder?.[2] ?? "string";
  if (DOCKER_TYPES.has(word)) return word;
  // A flag that can be given many times collects into a list (docker's opts.ListOpts).
  return opt.parseArg && opt.variadic === false && isCollector(opt) ? "list" : "string";
}

/** The collectors in this CLI append the value to the previous ones (`collect`). */
function isCollector(opt: Option): boolean {
  const fn = opt.parseArg as ((v: string, prev?: unknown) => unknown) | undefined;
  if (!fn) return false;
  try {
    return Array.isArray(fn.call(undefined, "x", undefined));
  } catch {
    return false;
  }
}

function defaultText(opt: Option, type: string): string {
  const d: unknown = opt.defaultValue;
  if (d === undefined || d === false || d === "" || (Array.isArray(d) && d.length === 0)) return "";
  return type === "string" ? ` (default ${JSON.stringify(d)})` : ` (default ${String(d)})`;
}

/** pflag's wrapN: cut at the last blank before i, or at a newline before that. */
function wrapN(i: number, slop: number, s: string): [string, string] {
  if (i + slop > s.length) return [s, ""];
  const head = s.slice(0, i);
  const w = Math.max(head.lastIndexOf(" "), head.lastIndexOf("\t"), head.lastIndexOf("\n"));
  if (w <= 0) return [s, ""];
  const nl = head.lastIndexOf("\n");
  if (nl > 0 && nl < w) return [s.slice(0, nl), s.slice(nl + 1)];
  return [s.slice(0, w), s.slice(w + 1)];
}

/** pflag's wrap: the usage text from column i, in lines no wider than w. */
function wrap(i: number, w: number, s: string): string {
  let indent = i;
  let room = w - indent;
  let r = "";
  if (room < 24) {
    indent = 16;
    room = w - indent;
    r += "\n" + " ".repeat(indent);
  }
  if (room < 24) return s.replace(/\n/g, r);
  const slop = 5;
  room -= slop;
  const pad = "\n" + " ".repeat(indent);
  let [line, rest] = wrapN(room, slop, s);
  r += line.replace(/\n/g, pad);
  while (rest !== "") {
    [line, rest] = wrapN(room, slop, rest);
    r += pad + line.replace(/\n/g, pad);
  }
  return r;
}

/** The Options block: one line per visible flag, sorted by long name, usage aligned and wrapped. */
export function flagUsages(cmd: Command, width: number): string {
  const options = cmd.options;
  // docker lists --help only where -h is another flag's (run's --hostname).
  const help = options.some((o) => o.short === "-h") ? [new Option("--help", "Print usage")] : [];
  const visible = [...options, ...help]
    .filter((o) => !o.hidden && !(o.negate && options.some((p) => p.long === `--${o.long!.slice(5)}`)))
    .sort((a, b) => (a.long ?? a.short ?? "").replace(/^-+/, "").localeCompare((b.long ?? b.short ?? "").replace(/^-+/, "")));
  const lines = visible.map((o) => {
    const type = valueType(o);
    let left = o.short && o.long ? `  ${o.short}, ${o.long}` : o.long ? `      ${o.long}` : `  ${o.short}`;
    if (type) left += ` ${type}`;
    const description = o.long === "--format" && o.description === FORMAT_SHORT ? formatUsage(cmd, o) : o.description;
    return { left, usage: `${description}${defaultText(o, type)}` };
  });
  const maxlen = Math.max(0, ...lines.map((l) => l.left.length + 1));
  return lines.map((l) => `${l.left} ${" ".repeat(maxlen - l.left.length)} ${wrap(maxlen + 2, width - 1, l.usage)}`).join("\n");
}

/** Every path by which the same command is reachable (`container ls`, `container ps`, `ps` …). */
function aliasPaths(cmd: Command): string[] {
  const root = rootOf(cmd);
  const twins: Command[] = [];
  const consider = (c: Command) => {
    if (c.description() === cmd.description() && c.usage() === cmd.usage() && c.commands.length === 0) twins.push(c);
  };
  for (const top of root.commands) {
    if (top.commands.length > 0) top.commands.forEach(consider);
    else consider(top);
  }
  if (twins.length < 2 && cmd.aliases().length === 0) return [];
  const paths: string[] = [];
  for (const t of twins.sort((a, b) => depth(b) - depth(a))) {
    const parent = t.parent ? commandPath(t.parent) : "";
    for (const n of [t.name(), ...t.aliases()]) paths.push(`${parent} ${n}`.trim());
  }
  return paths;
}

function rootOf(cmd: Command): Command {
  let c = cmd;
  while (c.parent) c = c.parent;
  return c;
}

function depth(cmd: Command): number {
  let n = 0;
  for (let c = cmd.parent; c; c = c.parent) n++;
  return n;
}

function commandList(cmds: readonly Command[]): string {
  const pad = Math.max(11, ...cmds.map((c) => c.name().length));
  return cmds.map((c) => `  ${c.name().padEnd(pad)} ${c.summary() || c.description()}`).join("\n");
}

const visibleCommands = (cmd: Command) =>
  cmd.commands.filter((c) => c.name() !== "help" && !(c as unknown as { _hidden?: boolean })._hidden).sort((a, b) => a.name().localeCompare(b.name()));

/** The whole help of one command, as `docker <path> --help` prints it. */
export function dockerHelp(cmd: Command, width = terminalWidth()): string {
  const path = commandPath(cmd);
  const parts: string[] = [];
  const subs = visibleCommands(cmd);
  if (!cmd.parent) return rootHelp(cmd, width);
  parts.push(subs.length > 0 ? `Usage:  ${path} COMMAND` : `Usage:  ${path} ${cmd.usage()}`.trimEnd());
  parts.push(cmd.description());
  const aliases = subs.length > 0 ? [] : aliasPaths(cmd);
  if (aliases.length > 0) parts.push(`Aliases:\n  ${aliases.join(", ")}`);
  const flags = flagUsages(cmd, width);
  if (flags) parts.push(`Options:\n${flags}`);
  if (subs.length > 0) {
    parts.push(`Commands:\n${commandList(subs)}`);
    parts.push(`Run '${path} COMMAND --help' for more information on a command.`);
  }
  return parts.join("\n\n") + "\n";
}

function rootHelp(root: Command, width: number): string {
  const subs = visibleCommands(root);
  const common = COMMON.map((n) => subs.find((c) => c.name() === n)).filter((c): c is Command => !!c);
  const management = subs.filter((c) => c.commands.length > 0);
  const rest = subs.filter((c) => !common.includes(c) && !management.includes(c));
  return [
    `Usage:  ${root.name()} [OPTIONS] COMMAND`,
    root.description(),
    `Common Commands:\n${commandList(common)}`,
    `Management Commands:\n${commandList(management)}`,
    `Commands:\n${commandList(rest)}`,
    `Global Options:\n${flagUsages(root, width)}`,
    `Run '${root.name()} COMMAND --help' for more information on a command.`,
  ].join("\n\n") + "\n";
}

/** docker sizes help to the terminal on stdin, 80 columns when there is none. */
function terminalWidth(): number {
  const tty = process.stdin as NodeJS.ReadStream & { isTTY?: boolean };
  if (tty.isTTY && process.stdout.isTTY && process.stdout.columns) return process.stdout.columns;
  return 80;
}
