import { createRequire } from "node:module";
import { PierError } from "../errdefs/index.js";

// Typed access to the pier_native addon (native/pier_native.cc, built by node-gyp at install).
// Every call is synchronous except the seqpacket reads/writes, and throws an Error whose
// `.code` is the errno name ("EPERM", "ENOENT", …) and whose message names the path, like node:fs.

interface NativeBinding {
  mknod(path: string, mode: number, type: "c" | "b" | "p", major: number, minor: number): void;
  lsetxattr(path: string, name: string, value: Buffer): void;
  lgetxattr(path: string, name: string): Buffer | undefined;
  llistxattr(path: string): string[];
  mount(source: string, target: string, fstype: string, flags: number, data: string): void;
  mountAt(dir: string, source: string, target: string, fstype: string, flags: number, data: string): void;
  umount2(target: string, flags: number): void;
  seqpacketConnect(path: string): number;
  seqpacketRead(fd: number, maxLen: number): Promise<Buffer | null>;
  seqpacketWrite(fd: number, data: Buffer): Promise<void>;
  close(fd: number): void;
  shutdown(fd: number, how: number): void;
  chroot(path: string): void;
  openTree(path: string, recursive: boolean): number;
  mountSetReadonly(treeFd: number): void;
  moveMount(treeFd: number, targetFd: number): void;
  x32SyscallsWork(): boolean;
  mallocTrim?(): boolean; // absent from an addon built before it: see mallocTrim below
  lowMemoryNotification?(): void; // likewise
  createNetns(path: string): void;
  netlinkConfigure(netnsPath: string, loopbackUp: boolean, links: NetlinkVeth[]): Promise<void>;
  netlinkTeardown(netnsPath: string, hostIfs: string[]): Promise<void>;
  sealedCopy(path: string): number;
  socketpair(): [number, number];
  spawn(file: string, argv: string[], envp: string[], cwd: string | null, fds: number[], setsid: boolean, onExit: (code: number | null, signal: NodeJS.Signals | null) => void): number;
  childRef(pid: number, ref: boolean): void;
}

// Loaded on first use, not at import: modules that never touch a syscall (and the CLI) must
// keep working on a checkout where the addon has not been built.
let binding: NativeBinding | undefined;
function native(): NativeBinding {
  if (!binding) {
    // dist/src/sys/native.js → <project>/build/Release/pier_native.node
    const require = createRequire(import.meta.url);
    try {
      binding = require("../../../build/Release/pier_native.node") as NativeBinding;
    } catch (err) {
      throw new PierError("Unavailable", `native addon not built (run "npm install" or "npx node-gyp rebuild"): ${(err as Error).message}`, { cause: err });
    }
  }
  return binding;
}

// <sys/mount.h> flags; the addon takes them as an unsigned 32-bit number.
export const MS_RDONLY = 1;
export const MS_NOSUID = 2;
export const MS_NODEV = 4;
export const MS_NOEXEC = 8;
export const MS_REMOUNT = 32;
export const MS_BIND = 4096;
export const MS_REC = 16384;
export const MS_PRIVATE = 1 << 18;
export const MS_SLAVE = 1 << 19;
export const MS_SHARED = 1 << 20;
export const MNT_DETACH = 2;

/** mknod(2): a character ("c") or block ("b") device, or a fifo ("p"); `mode` is the permission bits. */
export function mknod(path: string, mode: number, type: "c" | "b" | "p", major = 0, minor = 0): void {
  native().mknod(path, mode, type, major, minor);
}

/** lsetxattr(2): sets an extended attribute on the path itself (never follows a symlink). */
export function lsetxattr(path: string, name: string, value: Buffer | string): void {
  native().lsetxattr(path, name, typeof value === "string" ? Buffer.from(value) : value);
}

/** lgetxattr(2): the value, or undefined when the attribute is not set. */
export function lgetxattr(path: string, name: string): Buffer | undefined {
  return native().lgetxattr(path, name);
}

/** llistxattr(2): names of all attributes this process may see on the path. */
export function llistxattr(path: string): string[] {
  return native().llistxattr(path);
}

/** mount(2). `fstype` and `data` may be "" (bind mounts, propagation changes). */
export function mount(source: string, target: string, fstype: string, flags: number, data = ""): void {
  native().mount(source, target, fstype, flags >>> 0, data);
}

/**
 * mount(2) with relative paths in `target` and `data` resolved against `dir`, without moving the
 * process's cwd (the addon mounts from a thread with its own cwd). For overlay mounts whose
 * lowerdir list would not fit the one-page option limit with absolute paths.
 */
export function mountAt(dir: string, source: string, target: string, fstype: string, flags: number, data = ""): void {
  native().mountAt(dir, source, target, fstype, flags >>> 0, data);
}

/** umount2(2); pass MNT_DETACH for a lazy unmount. */
export function umount2(target: string, flags = 0): void {
  native().umount2(target, flags);
}

/**
 * A connected AF_UNIX SOCK_SEQPACKET client (the monitor's attach socket), as a raw non-blocking fd.
 * Paths longer than sun_path's 107 bytes are reached through /proc/self/fd of the parent dir.
 *
 * Why not net.Socket: libuv classifies a seqpacket fd as UNKNOWN and `new net.Socket({ fd })`
 * throws ERR_INVALID_FD_TYPE (native.test.ts checks this), so reads and writes go through the
 * addon, which polls the fd on the event loop and returns one message per read.
 */
export function seqpacketConnect(path: string): number {
  return native().seqpacketConnect(path);
}

/** Next message, or null at EOF. Bytes beyond `maxLen` in a message are dropped by the kernel. */
export function seqpacketRead(fd: number, maxLen = 65536): Promise<Buffer | null> {
  return native().seqpacketRead(fd, maxLen);
}

/** Send `data` as one message. */
export function seqpacketWrite(fd: number, data: Buffer): Promise<void> {
  return native().seqpacketWrite(fd, data);
}

/** Close a fd from seqpacketConnect; pending reads resolve to null. Use this, not fs.close. */
export function seqpacketClose(fd: number): void {
  native().close(fd);
}

/**
 * Half-close a seqpacket connection: with "write", the peer reads EOF (the monitor then closes the
 * container's stdin) while messages still flow towards us. Wait for pending writes first.
 */
export function seqpacketShutdown(fd: number, how: "read" | "write" | "both"): void {
  native().shutdown(fd, how === "read" ? 0 : how === "write" ? 1 : 2);
}

/**
 * chroot(2) for the whole process. Only for the copy helper (a child process in its own mount
 * namespace): pierd itself never changes its root.
 */
export function chroot(path: string): void {
  native().chroot(path);
}

/** open_tree(2) with OPEN_TREE_CLONE: a detached copy of the mount at `path`, as an fd. */
export function openTree(path: string, recursive = true): number {
  return native().openTree(path, recursive);
}

/** mount_setattr(2): make a detached tree (from openTree) read-only, recursively. */
export function mountSetReadonly(treeFd: number): void {
  native().mountSetReadonly(treeFd);
}

/** move_mount(2): attach a detached tree onto what `targetFd` (an O_PATH fd) refers to. */
export function moveMount(treeFd: number, targetFd: number): void {
  native().moveMount(treeFd, targetFd);
}

/**
 * A new network namespace bind-mounted at `path` (created if missing), made by a short-lived
 * child: pierd never enters it. Remove it with umount2(path, MNT_DETACH) and unlink.
 */
export function createNetns(path: string): void {
  native().createNetns(path);
}

/** One veth pair of a container, as the addon's netlink calls take it (sys/netlink.ts uses them). */
export interface NetlinkVeth {
  /** Interface name inside the container (eth0, eth1, …). */
  ifname: string;
  /** The host end, in pierd's namespace, enslaved to `bridge`. */
  hostIf: string;
  bridge: string;
  /** The container end's MAC, "aa:bb:cc:dd:ee:ff". */
  mac: string;
  /** The container's IPv4 address and its network's prefix length. */
  ip: string;
  prefixLen: number;
  gateway: string;
  /** Both ends' MTU. */
  mtu: number;
  /** Whether the default route goes via this link's gateway (the first non-internal network). */
  defaultRoute: boolean;
}

/**
 * rtnetlink, on a thread of its own: loopback up (when asked) and the veth pairs in the namespace
 * bound at `netnsPath`. Rejects with an errno error whose `syscall` is the step that failed and
 * `detail` the kernel's extended-ACK text. Use sys/netlink.ts, which words the errors.
 */
export function netlinkConfigure(netnsPath: string, loopbackUp: boolean, links: NetlinkVeth[]): Promise<void> {
  return native().netlinkConfigure(netnsPath, loopbackUp, links);
}

/** Unmount and remove the namespace file ("" for none), then delete host interfaces by name (missing ones are fine). */
export function netlinkTeardown(netnsPath: string, hostIfs: string[]): Promise<void> {
  return native().netlinkTeardown(netnsPath, hostIfs);
}

/**
 * A sealed, close-on-exec memfd with the bytes of the file at `path` (no write, grow, shrink or
 * new seal is possible): a program exec'd from it cannot be rewritten through /proc/<pid>/exe.
 */
export function sealedCopy(path: string): number {
  return native().sealedCopy(path);
}

/** Whether the kernel runs x32-ABI system calls at all (most distribution kernels do not). */
export function x32SyscallsWork(): boolean {
  return native().x32SyscallsWork();
}

/**
 * glibc's malloc_trim(0): free heap pages of every malloc arena back to the kernel. False
 * when nothing was released, and with an addon built before this function existed (a
 * checkout not rebuilt since): the idle collection calling it must not bring pierd down.
 */
export function mallocTrim(): boolean {
  return native().mallocTrim?.() ?? false;
}

/**
 * V8's LowMemoryNotification: collect until nothing more is freed, shrinking the heap (young
 * generation to its minimum, fragmented pages compacted) and returning the pages. False with
 * an addon built before this function existed (the caller then falls back to gc()).
 */
export function lowMemoryNotification(): boolean {
  const fn = native().lowMemoryNotification;
  if (!fn) return false;
  fn();
  return true;
}

/** Load the addon now (a process about to chroot must not load code afterwards). */
export function preloadNative(): void {
  native();
}

/** The process-spawning half of the addon, checked as a whole: an addon built before it existed fails loudly. */
export interface NativeSpawn {
  /** socketpair(2), AF_UNIX SOCK_STREAM, both ends close-on-exec: [parent end, child end]. */
  socketpair(): [number, number];
  /**
   * posix_spawn(3): child fd i = fds[i] (-1: /dev/null) and no other fd (not even one this
   * process inherited without close-on-exec), every signal default and unblocked,
   * a new session when `setsid`. Throws the exec's errno (ENOENT, EACCES). `onExit` runs once
   * on the event loop after the child is reaped.
   */
  spawn(file: string, argv: string[], envp: string[], cwd: string | null, fds: number[], setsid: boolean, onExit: (code: number | null, signal: NodeJS.Signals | null) => void): number;
  /** Whether a running child keeps the event loop alive. */
  childRef(pid: number, ref: boolean): void;
}

let spawnBinding: NativeSpawn | undefined;
export function nativeSpawn(): NativeSpawn {
  if (!spawnBinding) {
    const b = native();
    for (const f of ["socketpair", "spawn", "childRef"] as const) {
      if (typeof b[f] !== "function") {
        throw new PierError("Unavailable", `native addon is out of date (it has no ${f}()): rebuild it ("npm ci", or node-gyp rebuild)`);
      }
    }
    spawnBinding = { socketpair: b.socketpair, spawn: b.spawn, childRef: b.childRef };
  }
  return spawnBinding;
}
