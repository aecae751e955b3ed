// Mounting a local volume's device on its _data directory, as moby's local driver does through
// moby/sys/mount: the `o` string is split into mount(2) flags and filesystem data, bind mounts
// made read-only by a remount, propagation set by a call of its own, and failures worded as
// dockerd words them ("mount tmpfs:/…/_data, data: size=1m,bogus=1: invalid argument").

import { lookup } from "node:dns/promises";
import { isIPv4 } from "node:net";
import { MNT_DETACH, MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_PRIVATE, MS_RDONLY, MS_REC, MS_REMOUNT, MS_SHARED, MS_SLAVE, mount, umount2 } from "../sys/index.js";
import type { LocalMountSpec } from "./local-options.js";

// <sys/mount.h> flags the sys module does not name.
const MS_SYNCHRONOUS = 16;
const MS_MANDLOCK = 64;
const MS_DIRSYNC = 128;
const MS_NOATIME = 1024;
const MS_NODIRATIME = 2048;
const MS_SILENT = 32768;
const MS_UNBINDABLE = 1 << 17;
const MS_RELATIME = 1 << 21;
const MS_STRICTATIME = 1 << 24;

/** fstab words that are mount(2) flags (`clear`: the word turns the flag off); the rest is data. */
const FLAG_WORDS: Record<string, { flag: number; clear?: boolean }> = {
  ro: { flag: MS_RDONLY },
  rw: { flag: MS_RDONLY, clear: true },
  suid: { flag: MS_NOSUID, clear: true },
  nosuid: { flag: MS_NOSUID },
  dev: { flag: MS_NODEV, clear: true },
  nodev: { flag: MS_NODEV },
  exec: { flag: MS_NOEXEC, clear: true },
  noexec: { flag: MS_NOEXEC },
  sync: { flag: MS_SYNCHRONOUS },
  async: { flag: MS_SYNCHRONOUS, clear: true },
  dirsync: { flag: MS_DIRSYNC },
  remount: { flag: MS_REMOUNT },
  mand: { flag: MS_MANDLOCK },
  nomand: { flag: MS_MANDLOCK, clear: true },
  atime: { flag: MS_NOATIME, clear: true },
  noatime: { flag: MS_NOATIME },
  diratime: { flag: MS_NODIRATIME, clear: true },
  nodiratime: { flag: MS_NODIRATIME },
  bind: { flag: MS_BIND },
  rbind: { flag: MS_BIND | MS_REC },
  unbindable: { flag: MS_UNBINDABLE },
  runbindable: { flag: MS_UNBINDABLE | MS_REC },
  private: { flag: MS_PRIVATE },
  rprivate: { flag: MS_PRIVATE | MS_REC },
  shared: { flag: MS_SHARED },
  rshared: { flag: MS_SHARED | MS_REC },
  slave: { flag: MS_SLAVE },
  rslave: { flag: MS_SLAVE | MS_REC },
  relatime: { flag: MS_RELATIME },
  norelatime: { flag: MS_RELATIME, clear: true },
  strictatime: { flag: MS_STRICTATIME },
  nostrictatime: { flag: MS_STRICTATIME, clear: true },
};

const PROPAGATION = MS_SHARED | MS_PRIVATE | MS_SLAVE | MS_UNBINDABLE;

/** Split `o` into flags and data, left to right, as moby/sys/mount's parseOptions ("defaults" is data there too). */
export function parseMountOptions(o: string): { flags: number; data: string } {
  let flags = 0;
  const data: string[] = [];
  for (const word of o.split(",")) {
    const f = FLAG_WORDS[word];
    if (f) flags = f.clear ? flags & ~f.flag : flags | f.flag;
    else data.push(word);
  }
  return { flags: flags >>> 0, data: data.join(",") };
}

/** A failed mount step, worded as moby/sys/mount's mountError. */
class MountStepError extends Error {}

function stepError(op: string, source: string, target: string, flags: number, data: string, err: unknown): MountStepError {
  let msg = `${op} ${source !== "" ? `${source}:${target}` : target}`;
  if (flags !== 0) msg += `, flags: 0x${(flags >>> 0).toString(16)}`;
  if (data !== "") msg += `, data: ${data}`;
  return new MountStepError(`${msg}: ${goErrnoText(err)}`);
}

/**
 * Go prints an errno as the C library's text with a lower-case first letter ("no such
 * device"); the addon's message carries that text after the code ("ENODEV: No such device, mount …").
 */
function goErrnoText(err: unknown): string {
  const m = /^E[A-Z0-9]+: (.*?), \w+( '.*')?$/s.exec((err as Error)?.message ?? "");
  const text = m ? m[1]! : String((err as Error)?.message ?? err);
  return text.charAt(0).toLowerCase() + text.slice(1);
}

/** mount(2) the spec's device on `target`, with moby/sys/mount's extra steps. */
function mountSteps(device: string, target: string, type: string, o: string): void {
  const { flags, data } = parseMountOptions(o);
  const main = (flags & ~PROPAGATION) >>> 0;
  // A device of "" or "none" with no data is moby's remount request: no first call.
  const isRemount = (flags & MS_REMOUNT) !== 0 || device === "" || device === "none";
  if (!isRemount || data !== "") {
    try {
      mount(device, target, type, main, data);
    } catch (err) {
      throw stepError("mount", device, target, main, data, err);
    }
  }
  if ((flags & PROPAGATION) !== 0) {
    const prop = (flags & (PROPAGATION | MS_REC | MS_SILENT)) >>> 0;
    try {
      mount("", target, "", prop, "");
    } catch (err) {
      throw stepError("remount", "", target, prop, "", err);
    }
  }
  // A bind mount ignores MS_RDONLY on its first call; the remount applies it.
  if ((main & (MS_BIND | MS_RDONLY)) === (MS_BIND | MS_RDONLY)) {
    const ro = (main | MS_REMOUNT) >>> 0;
    try {
      mount("", target, "", ro, "");
    } catch (err) {
      throw stepError("remount-ro", "", target, ro, "", err);
    }
  }
}

/** The value of `key=` in a comma-separated option string, or "". */
function optionValue(o: string, key: string): string {
  for (const word of o.split(",")) if (word.startsWith(`${key}=`)) return word.slice(key.length + 1);
  return "";
}

/**
 * Mount a volume's device on its data directory. For nfs and cifs, a host name in `addr=` is
 * resolved first (the kernel takes addresses only). Errors read "failed to mount local
 * volume: …", with a cifs password masked, as dockerd reports them.
 */
export async function mountLocalVolume(spec: LocalMountSpec, target: string): Promise<void> {
  if (spec.device === "") throw new Error("missing device in volume options");
  let o = spec.o;
  if (spec.type === "nfs" || spec.type === "cifs") {
    const addr = optionValue(o, "addr");
    if (addr !== "" && !isIPv4(addr)) {
      let ip: string;
      try {
        ip = (await lookup(addr)).address;
      } catch (err) {
        throw new Error(`error resolving passed in network volume address: ${(err as Error).message}`);
      }
      o = o.replace(`addr=${addr}`, `addr=${ip}`);
    }
  }
  try {
    mountSteps(spec.device, target, spec.type, o);
  } catch (err) {
    if (!(err instanceof MountStepError)) throw err;
    let msg = err.message;
    const password = optionValue(spec.o, "password");
    if (password !== "") msg = msg.replace(`password=${password}`, "password=********");
    throw new Error(`failed to mount local volume: ${msg}`);
  }
}

/** Unmount a volume's data directory (lazily, as moby does); one not mounted is fine. */
export function unmountLocalVolume(target: string): void {
  try {
    umount2(target, MNT_DETACH);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EINVAL" && (err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
}
