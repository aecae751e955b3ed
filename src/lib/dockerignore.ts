// .dockerignore (shared by the builder and the CLI, which applies it before sending the
// context), with Docker's rules (moby/patternmatcher and the dockerignore reader):
// comments, `!` exceptions, a leading `/` ignored, patterns cleaned like filepath.Clean,
// `*`/`?`/`[...]` never cross "/", `**` matches any number of directories, the last
// matching pattern wins, and a pattern that matches a directory matches everything in it.

interface Pattern {
  re: RegExp;
  exclusion: boolean;
  /** The cleaned pattern text (for "is a parent dir pattern" checks). */
  text: string;
}

/** The lines of a .dockerignore file → patterns (Docker's ReadAll). */
export function readIgnore(text: string): string[] {
  const out: string[] = [];
  for (let line of text.split("\n")) {
    line = line.replace(/\r$/, "");
    if (line.startsWith("#")) continue;
    line = line.trim();
    if (line === "") continue;
    let invert = false;
    if (line.startsWith("!")) {
      invert = true;
      line = line.slice(1).trim();
    }
    if (line.length > 0) {
      line = cleanPath(line);
      if (line.startsWith("/") && line.length > 1) line = line.slice(1);
      else if (line === "/") line = ".";
    }
    out.push(invert ? `!${line}` : line);
  }
  return out;
}

/** Go's path.Clean. */
export function cleanPath(p: string): string {
  if (p === "") return ".";
  const rooted = p.startsWith("/");
  const parts: string[] = [];
  for (const c of p.split("/")) {
    if (c === "" || c === ".") continue;
    if (c === "..") {
      if (parts.length > 0 && parts[parts.length - 1] !== "..") parts.pop();
      else if (!rooted) parts.push("..");
      continue;
    }
    parts.push(c);
  }
  const s = parts.join("/");
  if (rooted) return "/" + s;
  return s === "" ? "." : s;
}

function compile(pattern: string): RegExp {
  let re = "^";
  const chars = [...pattern];
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (ch === "*") {
      if (chars[i + 1] === "*") {
        i++;
        // "**/" at the start or after a "/" matches zero or more directories
        if (chars[i + 1] === "/") {
          i++;
          re += "(?:.*/)?";
        } else re += ".*";
        continue;
      }
      re += "[^/]*";
    } else if (ch === "?") re += "[^/]";
    else if (ch === "\\") {
      i++;
      if (i < chars.length) re += escapeRe(chars[i]!);
      else re += "\\\\";
    } else if (ch === "[") {
      let j = i + 1;
      let cls = "";
      if (chars[j] === "^" || chars[j] === "!") {
        cls += "^";
        j++;
      }
      while (j < chars.length && chars[j] !== "]") {
        const c = chars[j]!;
        if (c === "\\" && j + 1 < chars.length) {
          j++;
          cls += escapeRe(chars[j]!);
        } else cls += c === "-" ? "-" : escapeRe(c);
        j++;
      }
      if (j >= chars.length) {
        re += "\\[";
        continue;
      }
      re += `[${cls}]`;
      i = j;
    } else re += escapeRe(ch);
  }
  return new RegExp(re + "$", "s");
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
}

export class IgnoreMatcher {
  private readonly patterns: Pattern[];
  constructor(lines: string[]) {
    this.patterns = lines
      .filter((l) => l !== "" && l !== "!")
      .map((l) => {
        const exclusion = l.startsWith("!");
        const text = exclusion ? l.slice(1) : l;
        return { re: compile(text), exclusion, text };
      });
  }

  get empty(): boolean {
    return this.patterns.length === 0;
  }

  /** Whether any exception pattern could re-include something under `dir`. */
  hasExceptions(): boolean {
    return this.patterns.some((p) => p.exclusion);
  }

  /**
   * Whether walking into an excluded directory may still find something to keep: an
   * exception pattern that starts with the directory (moby's archive walker; wildcards in
   * the pattern's leading part are not looked into, as there).
   */
  mayReinclude(dir: string): boolean {
    const dirSlash = cleanPath(dir) + "/";
    return this.patterns.some((p) => p.exclusion && (p.text + "/").startsWith(dirSlash));
  }

  /** Docker's MatchesOrParentMatches: the path or one of its parent directories matches. */
  matches(file: string): boolean {
    const rel = cleanPath(file);
    const parents: string[] = [];
    const parts = rel.split("/");
    for (let i = 1; i < parts.length; i++) parents.push(parts.slice(0, i).join("/"));
    let matched = false;
    for (const p of this.patterns) {
      if (p.exclusion !== matched) continue; // cannot change the outcome
      let m = p.re.test(rel);
      if (!m) m = parents.some((d) => p.re.test(d));
      if (m) matched = !p.exclusion;
    }
    return matched;
  }
}
