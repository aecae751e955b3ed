import { promises as fsp } from "node:fs";
import { childPath, resolveClean } from "./pathutil.js";

const MAX_SYMLINKS = 255;

/**
 * Resolve `unsafePath` as if `root` were "/": every `..` and every symlink met on the way
 * (absolute or relative) is interpreted inside root, so the result can never leave it.
 * Components that do not exist are appended lexically. Like Go's filepath-securejoin.
 *
 * This is a lookup, not a lock: a caller that then opens the result must still be ready for
 * the tree to change underneath it (cp, for one, re-checks with O_NOFOLLOW opens).
 */
export async function secureJoin(root: string, unsafePath: string): Promise<string> {
  root = resolveClean(root);
  let remaining = unsafePath.split("/").filter((c) => c !== "" && c !== ".");
  // The resolved components, as the paths they lead to: resolved[i] is root/c1/…/ci. Every
  // component is clean (split on "/", never "", "." or ".."), so plain concatenation gives
  // what path.join(root, …) would, without normalising the whole path again at each step.
  const resolved: string[] = [root];
  const top = () => resolved[resolved.length - 1]!;
  let links = 0;
  while (remaining.length > 0) {
    const comp = remaining.shift()!;
    if (comp === "..") {
      if (resolved.length > 1) resolved.pop();
      continue;
    }
    const candidate = childPath(top(), comp);
    let st;
    try {
      st = await fsp.lstat(candidate);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT" || (err as NodeJS.ErrnoException).code === "ENOTDIR") {
        resolved.push(candidate);
        continue;
      }
      throw err;
    }
    if (!st.isSymbolicLink()) {
      resolved.push(candidate);
      continue;
    }
    if (++links > MAX_SYMLINKS) {
      const e = new Error(`too many levels of symbolic links: ${unsafePath}`) as NodeJS.ErrnoException;
      e.code = "ELOOP";
      throw e;
    }
    const target = await fsp.readlink(candidate);
    const targetComps = target.split("/").filter((c) => c !== "" && c !== ".");
    if (target.startsWith("/")) resolved.length = 1;
    remaining = [...targetComps, ...remaining];
  }
  return top();
}

/** Lexical clean of a path from a tar entry or client: never starts with "/" or "..", "" for root. */
export function cleanRelative(p: string): string {
  const parts: string[] = [];
  for (const c of p.split("/")) {
    if (c === "" || c === ".") continue;
    if (c === "..") parts.pop();
    else parts.push(c);
  }
  return parts.join("/");
}
