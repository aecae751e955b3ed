import * as path from "node:path";

// Path building without node:path's normalisation, for hot paths whose pieces are already
// clean. path.join and path.resolve run a character loop over the whole result on every call;
// pierd calls them for every tar entry and dozens of times per container start, which is what
// made V8 compile that loop with TurboFan (paging in the compiler, ~4 MiB kept for good) during
// a plain `docker load` and a few `docker run`s. These helpers are string concatenations and
// native searches, with the same results as path.join for the inputs they document.

/** True when `p` is absolute and path.resolve would return it unchanged. */
export function isCleanAbsolute(p: string): boolean {
  if (!p.startsWith("/")) return false;
  if (p === "/") return true;
  return !p.endsWith("/") && !p.includes("//") && !p.includes("/./") && !p.includes("/../") && !p.endsWith("/.") && !p.endsWith("/..");
}

/** path.resolve(p), skipping the work when p is already clean and absolute. */
export function resolveClean(p: string): string {
  return isCleanAbsolute(p) ? p : path.resolve(p);
}

/**
 * `dir/name` for a clean directory path (as path.resolve returns, or a clean relative one, ""
 * for the current directory) and one clean component `name` (no "/", not "", "." or ".."):
 * equal to path.join(dir, name) for such inputs.
 */
export function childPath(dir: string, name: string): string {
  if (dir === "") return name;
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}

/**
 * The parent and last component of a clean relative path ("a/b/c" → ["a/b", "c"], "c" →
 * ["", "c"]); path.posix.dirname would say "." for the parent of "c".
 */
export function splitClean(rel: string): [dir: string, base: string] {
  const i = rel.lastIndexOf("/");
  return i < 0 ? ["", rel] : [rel.slice(0, i), rel.slice(i + 1)];
}

/** path.dirname for a clean absolute path other than "/". */
export function parentOfClean(p: string): string {
  const i = p.lastIndexOf("/");
  return i <= 0 ? "/" : p.slice(0, i);
}
