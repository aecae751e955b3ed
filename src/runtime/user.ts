// Resolve a container's `User` ("name", "uid", "name:group", "uid:gid", …) against the
// container's own /etc/passwd and /etc/group, as runc's libcontainer/user GetExecUserPath and
// Docker's daemon getUser do. The files are looked up with secureJoin, so a symlinked
// /etc/passwd is resolved inside the rootfs and never reads the host's files.

import { constants as fsc, promises as fsp } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { invalidParameter } from "../errdefs/index.js";
import { secureJoin } from "../lib/index.js";

export interface PasswdEntry {
  name: string;
  pass: string;
  uid: number;
  gid: number;
  gecos: string;
  home: string;
  shell: string;
}

export interface GroupEntry {
  name: string;
  pass: string;
  gid: number;
  members: string[];
}

export interface ResolvedUser {
  uid: number;
  gid: number;
  /** Docker's order: the primary gid, the groups that list the user, then GroupAdd. */
  additionalGids: number[];
}

const MIN_ID = 0;
const MAX_ID = 2 ** 31 - 1;
const ERR_NO_PASSWD = "no matching entries in passwd file";
const ERR_NO_GROUP = "no matching entries in group file";
const ERR_RANGE = `uids and gids must be in range ${MIN_ID}-${MAX_ID}`;

/** Go's strconv.Atoi for the sizes that matter here: an optional sign and digits. */
function atoi(s: string): number | undefined {
  if (!/^[+-]?\d+$/.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : undefined;
}

function field(parts: string[], i: number): string {
  return parts[i] ?? "";
}

function intField(parts: string[], i: number): number {
  return atoi(field(parts, i)) ?? 0;
}

/** Parse passwd(5) text the way runc does: blank lines skipped, short lines padded, bad numbers are 0. */
export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "") continue;
    const p = line.split(":");
    out.push({
      name: field(p, 0),
      pass: field(p, 1),
      uid: intField(p, 2),
      gid: intField(p, 3),
      gecos: field(p, 4),
      home: field(p, 5),
      shell: field(p, 6),
    });
  }
  return out;
}

/** Parse group(5) text: name:pass:gid:member,member. */
export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "") continue;
    const p = line.split(":");
    const list = field(p, 3);
    out.push({ name: field(p, 0), pass: field(p, 1), gid: intField(p, 2), members: list === "" ? [] : list.split(",") });
  }
  return out;
}

/** Largest /etc/passwd or /etc/group read: far above any real one, and bounds what an image can make pierd hold. */
const MAX_USER_DB = 16 * 1024 * 1024;

/**
 * Read a file of the container (path relative to its root); undefined when it does not exist.
 * The image decides what is there: opened without blocking (a FIFO would hang the read, and with
 * it a thread of the pool and the container's lock) and without following a link swapped in
 * since the path was resolved; only a regular file of a sane size is read.
 */
async function readContainerFile(rootfs: string, p: string): Promise<string | undefined> {
  const full = await secureJoin(rootfs, p);
  let fh: FileHandle;
  try {
    fh = await fsp.open(full, fsc.O_RDONLY | fsc.O_NONBLOCK | fsc.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw err;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw invalidParameter(`unable to find user: ${p} in the image is not a regular file`);
    if (st.size > MAX_USER_DB) throw invalidParameter(`unable to find user: ${p} in the image is larger than ${MAX_USER_DB} bytes`);
    return await fh.readFile("utf8");
  } finally {
    await fh.close();
  }
}

/**
 * runc's GetExecUser with no defaults, on already-read file contents (undefined = file missing).
 * Returns uid, gid and the supplementary gids of the groups listing the matched user (implicit form only).
 */
export function getExecUser(
  userSpec: string,
  passwd: string | undefined,
  group: string | undefined,
): { uid: number; gid: number; sgids: number[]; home: string } {
  const res = { uid: 0, gid: 0, sgids: [] as number[], home: "" };
  const [userArg = "", groupArg = ""] = userSpec.split(":");
  const uidArg = atoi(userArg);
  const gidArg = atoi(groupArg);

  const users = passwd === undefined ? [] : parsePasswd(passwd).filter((u) => {
    if (userArg === "") return u.uid === res.uid;
    if (uidArg !== undefined) return u.uid === uidArg;
    return u.name === userArg;
  });

  let matchedName = "";
  if (users.length > 0) {
    matchedName = users[0]!.name;
    res.uid = users[0]!.uid;
    res.gid = users[0]!.gid;
    res.home = users[0]!.home;
  } else if (userArg !== "") {
    if (uidArg === undefined) throw invalidParameter(`unable to find user ${userArg}: ${ERR_NO_PASSWD}`);
    if (uidArg < MIN_ID || uidArg > MAX_ID) throw invalidParameter(ERR_RANGE);
    res.uid = uidArg;
  }

  if (groupArg !== "" || matchedName !== "") {
    const groups = group === undefined ? [] : parseGroup(group).filter((g) => {
      if (groupArg === "") return g.members.includes(matchedName);
      if (gidArg !== undefined) return g.gid === gidArg;
      return g.name === groupArg;
    });
    if (groupArg !== "") {
      if (groups.length > 0) {
        res.gid = groups[0]!.gid;
      } else {
        if (gidArg === undefined) throw invalidParameter(`unable to find group ${groupArg}: ${ERR_NO_GROUP}`);
        if (gidArg < MIN_ID || gidArg > MAX_ID) throw invalidParameter(ERR_RANGE);
        res.gid = gidArg;
      }
    } else {
      res.sgids = groups.map((g) => g.gid);
    }
  }
  return res;
}

/** runc's GetAdditionalGroups: each entry a group name or gid from /etc/group, or a bare number. */
export function getAdditionalGroups(additional: string[], group: string | undefined): number[] {
  const groups = group === undefined ? [] : parseGroup(group);
  const out: number[] = [];
  const seen = new Set<number>();
  for (const ag of additional) {
    const g = groups.find((g) => (g.name === ag || String(g.gid) === ag) && !seen.has(g.gid));
    let gid: number;
    if (g) {
      gid = g.gid;
    } else {
      const n = atoi(ag);
      if (n === undefined) throw invalidParameter(`Unable to find group ${ag}: ${ERR_NO_GROUP}`);
      if (n < MIN_ID || n > MAX_ID) throw invalidParameter(ERR_RANGE);
      gid = n;
    }
    if (!seen.has(gid)) {
      seen.add(gid);
      out.push(gid);
    }
  }
  return out;
}

/**
 * Resolve the container user as Docker does before starting a container: uid/gid from the
 * container's /etc/passwd and /etc/group (user spec forms "", "name", "uid", "name:group",
 * "uid:gid", "name:gid", "uid:group"); additionalGids = [gid, groups listing the user, GroupAdd…]
 * without duplicates. "" means root, with the groups that list root.
 * Unknown names throw InvalidParameter with runc's messages.
 */
export async function resolveUser(rootfs: string, user: string, groupAdd: string[] = []): Promise<ResolvedUser> {
  // Both at once: this is on the start path of every container.
  const [passwd, group] = await Promise.all([readContainerFile(rootfs, "/etc/passwd"), readContainerFile(rootfs, "/etc/group")]);
  const exec = getExecUser(user ?? "", passwd, group);
  const extra = groupAdd.length > 0 ? getAdditionalGroups(groupAdd, group) : [];
  const additionalGids: number[] = [];
  for (const g of [exec.gid, ...exec.sgids, ...extra]) if (!additionalGids.includes(g)) additionalGids.push(g);
  return { uid: exec.uid, gid: exec.gid, additionalGids };
}
