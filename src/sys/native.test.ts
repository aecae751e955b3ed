import { test } from "node:test";
import assert from "node:assert/strict";
import { promises as fsp, statSync, lstatSync, readFileSync } from "node:fs";
import * as path from "node:path";
import * as os from "node:os";
import net from "node:net";
import { spawn } from "node:child_process";
import {
  mknod, lsetxattr, lgetxattr, llistxattr, mount, mountAt, umount2, MNT_DETACH, MS_NODEV, MS_NOSUID,
  seqpacketConnect, seqpacketRead, seqpacketWrite, seqpacketClose, createNetns, lowMemoryNotification,
} from "./native.js";
import * as v8 from "node:v8";
import { readlinkSync, existsSync } from "node:fs";
import { spawnSync } from "node:child_process";

async function tmpdir(t: { after(fn: () => unknown): void }): Promise<string> {
  // Not under os.tmpdir() if that were tmpfs: trusted xattrs and overlay need a real fs. /tmp is ext4 here.
  const d = await fsp.mkdtemp(path.join(os.tmpdir(), "pier-native-"));
  t.after(() => fsp.rm(d, { recursive: true, force: true }));
  return d;
}

test("mknod makes a char device 0/0 and a fifo", async (t) => {
  const d = await tmpdir(t);
  mknod(path.join(d, "wh"), 0o600, "c", 0, 0);
  const st = lstatSync(path.join(d, "wh"));
  assert.ok(st.isCharacterDevice());
  assert.equal(st.rdev, 0);
  assert.equal(st.mode & 0o7777, 0o600); // a umask never takes owner bits
  mknod(path.join(d, "null"), 0o666, "c", 1, 3);
  assert.equal(lstatSync(path.join(d, "null")).rdev, (1 << 8) | 3);
  mknod(path.join(d, "fifo"), 0o644, "p", 0, 0);
  assert.ok(lstatSync(path.join(d, "fifo")).isFIFO());
  assert.throws(() => mknod(path.join(d, "fifo"), 0o644, "p", 0, 0), (e: NodeJS.ErrnoException) => {
    assert.equal(e.code, "EEXIST");
    assert.match(e.message, /fifo/);
    return true;
  });
});

test("xattrs: set, get, list, absent is undefined, never follows symlinks", async (t) => {
  const d = await tmpdir(t);
  const dir = path.join(d, "dir");
  await fsp.mkdir(dir);
  lsetxattr(dir, "trusted.overlay.opaque", Buffer.from("y"));
  lsetxattr(dir, "user.empty", Buffer.alloc(0));
  assert.deepEqual(lgetxattr(dir, "trusted.overlay.opaque"), Buffer.from("y"));
  assert.deepEqual(lgetxattr(dir, "user.empty"), Buffer.alloc(0));
  assert.equal(lgetxattr(dir, "user.missing"), undefined);
  assert.deepEqual(llistxattr(dir).sort(), ["trusted.overlay.opaque", "user.empty"]);
  await fsp.symlink("dir", path.join(d, "link"));
  assert.equal(lgetxattr(path.join(d, "link"), "trusted.overlay.opaque"), undefined);
  assert.throws(() => lgetxattr(path.join(d, "nope"), "user.x"), { code: "ENOENT" });
  const big = Buffer.alloc(3000, 7);
  lsetxattr(dir, "user.big", big);
  assert.deepEqual(lgetxattr(dir, "user.big"), big);
});

test("mount a tmpfs and unmount it, lazily too", async (t) => {
  const d = await tmpdir(t);
  const mnt = path.join(d, "mnt");
  await fsp.mkdir(mnt);
  mount("tmpfs", mnt, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0750");
  try {
    const mi = readFileSync("/proc/self/mountinfo", "utf8");
    assert.ok(mi.split("\n").some((l) => l.split(" ")[4] === mnt));
    assert.equal(statSync(mnt).mode & 0o777, 0o750);
    await fsp.writeFile(path.join(mnt, "f"), "x");
  } finally {
    umount2(mnt, MNT_DETACH);
  }
  assert.deepEqual(await fsp.readdir(mnt), []);
  assert.throws(() => umount2(mnt), (e: NodeJS.ErrnoException) => e.code === "EINVAL" && e.message.includes(mnt));
});

test("mountAt resolves relative paths against its dir and leaves the process cwd alone", async (t) => {
  const d = await tmpdir(t);
  for (const sub of ["l1", "l2", "upper", "work", "merged"]) await fsp.mkdir(path.join(d, sub));
  await fsp.writeFile(path.join(d, "l1/a"), "from l1");
  await fsp.writeFile(path.join(d, "l2/b"), "from l2");
  const cwd = process.cwd();
  mountAt(d, "overlay", "merged", "overlay", 0, "lowerdir=l1:l2,upperdir=upper,workdir=work");
  try {
    assert.equal(process.cwd(), cwd);
    assert.deepEqual((await fsp.readdir(path.join(d, "merged"))).sort(), ["a", "b"]);
  } finally {
    umount2(path.join(d, "merged"));
  }
  assert.throws(() => mountAt(path.join(d, "nope"), "tmpfs", "x", "tmpfs", 0), (e: NodeJS.ErrnoException) => e.code === "ENOENT" && e.message.includes("nope"));
});

/** A python3 SOCK_SEQPACKET server: sends three messages, echoes one, then closes. */
async function seqpacketServer(sock: string) {
  const script = `
import socket, os, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
os.chdir(os.path.dirname(sys.argv[1]))
s.bind(os.path.basename(sys.argv[1])); s.listen(1)
print("ready", flush=True)
c, _ = s.accept()
for m in [b"\\x02out", b"\\x03err", b"\\x02" + b"z" * 5000]: c.send(m)
d = c.recv(65536); c.send(b"echo:" + d)
c.close()
`;
  const py = spawn("python3", ["-c", script, sock], { stdio: ["ignore", "pipe", "ignore"] });
  await new Promise((resolve, reject) => {
    py.once("error", reject);
    py.stdout.once("data", resolve);
  });
  return py;
}

test("net.Socket refuses a seqpacket fd (why the addon does the I/O)", async (t) => {
  const d = await tmpdir(t);
  const sock = path.join(d, "s");
  const py = await seqpacketServer(sock);
  const fd = seqpacketConnect(sock);
  try {
    assert.throws(() => new net.Socket({ fd, readable: true, writable: true }), { code: "ERR_INVALID_FD_TYPE" });
  } finally {
    seqpacketClose(fd);
    py.kill();
  }
});

for (const long of [false, true]) {
  test(`seqpacket client keeps message boundaries${long ? " (socket path > 107 chars)" : ""}`, async (t) => {
    let d = await tmpdir(t);
    if (long) {
      d = path.join(d, "x".repeat(60), "y".repeat(60));
      await fsp.mkdir(d, { recursive: true });
    }
    const sock = path.join(d, "attach");
    assert.equal(sock.length > 107, long);
    const py = await seqpacketServer(sock);
    const fd = seqpacketConnect(sock);
    try {
      await new Promise((r) => setTimeout(r, 50)); // let all three messages queue up
      assert.deepEqual(await seqpacketRead(fd, 8193), Buffer.from("\x02out"));
      assert.deepEqual(await seqpacketRead(fd, 8193), Buffer.from("\x03err"));
      const big = await seqpacketRead(fd, 8193);
      assert.equal(big?.length, 5001);
      await seqpacketWrite(fd, Buffer.from("hello"));
      assert.equal(String(await seqpacketRead(fd)), "echo:hello");
      assert.equal(await seqpacketRead(fd), null);
    } finally {
      seqpacketClose(fd);
      py.kill();
    }
  });
}

test("seqpacketClose settles a pending read with null; connect errors carry the code", async (t) => {
  const d = await tmpdir(t);
  const sock = path.join(d, "s");
  const py = await seqpacketServer(sock);
  const fd = seqpacketConnect(sock);
  // Drain the three messages, then a read is left waiting for the echo that never comes.
  for (let i = 0; i < 3; i++) await seqpacketRead(fd);
  const pending = seqpacketRead(fd);
  seqpacketClose(fd);
  assert.equal(await pending, null);
  py.kill();
  assert.throws(() => seqpacketConnect(path.join(d, "missing")), (e: NodeJS.ErrnoException) => e.code === "ENOENT" && e.message.includes("missing"));
});

test("createNetns makes a namespace of its own at a path and never moves the caller", async (t) => {
  const d = await tmpdir(t);
  const ns = path.join(d, "ns");
  const before = readlinkSync("/proc/self/ns/net");
  createNetns(ns);
  try {
    assert.equal(readlinkSync("/proc/self/ns/net"), before, "pierd stays in its own namespace");
    const inside = spawnSync("nsenter", [`--net=${ns}`, "readlink", "/proc/self/ns/net"], { encoding: "utf8" });
    assert.equal(inside.status, 0, inside.stderr);
    assert.notEqual(inside.stdout.trim(), before);
    assert.equal(`net:[${statSync(ns).ino}]`, inside.stdout.trim());
    const links = spawnSync("nsenter", [`--net=${ns}`, "ip", "-o", "link"], { encoding: "utf8" });
    assert.deepEqual(links.stdout.trim().split("\n").map((l) => l.split(":")[1]!.trim()), ["lo"]);
    assert.throws(() => createNetns(path.join(d, "missing", "ns")), { code: "ENOENT" });
    assert.ok(!existsSync(path.join(d, "missing")));
  } finally {
    umount2(ns, MNT_DETACH); // before the directory goes
  }
});

test("lowMemoryNotification frees garbage and gives the old generation's pages back", () => {
  const oldSpace = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === "old_space")!;
  let garbage: object[] | null = [];
  for (let i = 0; i < 300_000; i++) garbage.push({ i, s: `x${i}` }); // ~20 MiB, promoted to old space
  const before = oldSpace();
  garbage = null;
  assert.equal(lowMemoryNotification(), true, "the addon has the function (rebuilt)");
  const after = oldSpace();
  assert.ok(after.space_used_size < before.space_used_size / 2, `used ${before.space_used_size} -> ${after.space_used_size}`);
  assert.ok(after.physical_space_size < before.physical_space_size / 2, `physical ${before.physical_space_size} -> ${after.physical_space_size}`);
});
