// Build a docker-archive of a busybox image from Debian's busybox-static, offline:
//
//   node dist/scripts/make-busybox-image.js [--tag busybox:latest] [--busybox /bin/busybox] -o FILE.tar
//
// The layout follows the official busybox image: /bin/busybox with every applet as a hard link
// to it in /bin, /etc/passwd and /etc/group with the same users and groups, /tmp 1777,
// /root 700, /home, /var/spool/mail, /var/www, empty /dev /proc /sys, /usr/sbin.
// Config: Cmd ["sh"], the usual PATH, host architecture. Every time and owner is fixed, so the
// same busybox binary always gives the same bytes (and so the same image ID). The archive is
// both a docker-archive (manifest.json) and an OCI layout: `pier load` and `docker load` take it.

import { createHash } from "node:crypto";
import { promises as fsp } from "node:fs";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { imageArchive, tarStream, type TarBody, type TarEntry } from "../src/image/index.js";
import { hostArchitecture, parseNormalizedNamed, familiarString } from "../src/oci/index.js";
import { run } from "../src/sys/index.js";

export const DEFAULT_CREATED = "2024-01-01T00:00:00Z";
export const PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

const PASSWD = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
`;

const GROUP = `root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
lp:x:7:
mail:x:8:
kmem:x:9:
wheel:x:10:root
cdrom:x:11:
dialout:x:18:
floppy:x:19:
video:x:28:
audio:x:29:
tape:x:32:
www-data:x:33:daemon
operator:x:37:
utmp:x:43:
plugdev:x:46:
staff:x:50:
lock:x:54:
netdev:x:82:
users:x:100:
nogroup:x:65534:
`;

const SHADOW = `root:*:10933:0:99999:7:::
daemon:*:10933:0:99999:7:::
bin:*:10933:0:99999:7:::
sys:*:10933:0:99999:7:::
sync:*:10933:0:99999:7:::
mail:*:10933:0:99999:7:::
www-data:*:10933:0:99999:7:::
operator:*:10933:0:99999:7:::
nobody:*:10933:0:99999:7:::
`;

export interface BusyboxImageOptions {
  busybox?: string;
  tag?: string;
  created?: string;
}

export interface BusyboxImage {
  archive: Buffer;
  imageID: string;
  diffID: string;
  repoTag: string;
}

async function collect(it: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of it) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

/** The layer tar of the busybox root filesystem. */
export async function busyboxLayer(busyboxPath: string, mtime: number): Promise<{ tar: Buffer; version: string }> {
  const binary = await fsp.readFile(busyboxPath);
  const list = await run(busyboxPath, ["--list"]);
  const applets = list.stdout
    .split("\n")
    .map((s) => s.trim())
    .filter((s) => s !== "" && s !== "busybox" && !s.includes("/"))
    .sort();
  const help = await run(busyboxPath, ["--help"], { allowFailure: true });
  const version = (help.stdout + help.stderr).split("\n")[0]?.trim() || "BusyBox";

  const entries: Array<{ entry: TarEntry; body?: TarBody }> = [];
  const dir = (name: string, mode = 0o755, uid = 0, gid = 0) => entries.push({ entry: { name, type: "directory", mode, uid, gid, mtime } });
  const file = (name: string, data: Buffer, mode = 0o644) =>
    entries.push({ entry: { name, type: "file", mode, size: data.length, mtime }, body: data });

  dir("bin/");
  file("bin/busybox", binary, 0o755);
  for (const a of applets) entries.push({ entry: { name: `bin/${a}`, type: "link", linkname: "bin/busybox", mode: 0o755, mtime } });
  dir("dev/");
  dir("etc/");
  file("etc/group", Buffer.from(GROUP));
  file("etc/nsswitch.conf", Buffer.from("hosts: files dns\nnetworks: files\n"));
  file("etc/passwd", Buffer.from(PASSWD));
  file("etc/shadow", Buffer.from(SHADOW), 0o600);
  dir("home/");
  dir("proc/");
  dir("root/", 0o700);
  dir("sys/");
  dir("tmp/", 0o1777);
  dir("usr/");
  dir("usr/sbin/");
  dir("var/");
  dir("var/spool/");
  dir("var/spool/mail/", 0o755, 8, 8);
  dir("var/www/", 0o755, 33, 33);
  return { tar: await collect(tarStream(entries)), version };
}

export async function makeBusyboxImage(opts: BusyboxImageOptions = {}): Promise<BusyboxImage> {
  const created = opts.created ?? DEFAULT_CREATED;
  const mtime = Math.floor(Date.parse(created) / 1000);
  if (Number.isNaN(mtime)) throw new Error(`invalid --created time ${created}`);
  const ref = parseNormalizedNamed(opts.tag ?? "busybox:latest");
  if (!ref.tag || ref.digest) throw new Error(`--tag needs a name:tag reference`);
  const repoTag = familiarString(ref);
  const { tar, version } = await busyboxLayer(opts.busybox ?? "/bin/busybox", mtime);
  const diffID = `sha256:${createHash("sha256").update(tar).digest("hex")}`;
  const config = Buffer.from(
    JSON.stringify({
      architecture: hostArchitecture(),
      config: { Env: [PATH_ENV], Cmd: ["sh"] },
      created,
      history: [
        {
          created,
          created_by: `/bin/sh -c #(nop) ADD file:busybox-static in / # ${version}`,
          comment: "made by pier make-busybox-image",
        },
      ],
      os: "linux",
      rootfs: { type: "layers", diff_ids: [diffID] },
    }),
  );
  const imageID = `sha256:${createHash("sha256").update(config).digest("hex")}`;
  const archive = await collect(
    // The outer entries get mtime 0, as Pier's save writes them: saving this image gives these bytes.
    imageArchive([{ config, repoTags: [repoTag], layers: [{ diffID, size: tar.length, open: async function* () { yield tar; } }] }]),
  );
  return { archive, imageID, diffID, repoTag };
}

function usage(): never {
  process.stderr.write("usage: make-busybox-image [--tag busybox:latest] [--busybox /bin/busybox] [--created RFC3339] -o FILE.tar\n");
  process.exit(2);
}

async function main(argv: string[]): Promise<void> {
  const opts: BusyboxImageOptions = {};
  let out: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const val = () => argv[++i] ?? usage();
    if (a === "-o" || a === "--output") out = val();
    else if (a === "-t" || a === "--tag") opts.tag = val();
    else if (a === "--busybox") opts.busybox = val();
    else if (a === "--created") opts.created = val();
    else if (a === "-h" || a === "--help") usage();
    else usage();
  }
  if (!out) usage();
  const img = await makeBusyboxImage(opts);
  if (out === "-") {
    process.stdout.write(img.archive);
  } else {
    const tmp = path.join(path.dirname(path.resolve(out)), `.${path.basename(out)}.tmp-${process.pid}`);
    await fsp.writeFile(tmp, img.archive);
    await fsp.rename(tmp, out);
  }
  process.stderr.write(`${img.repoTag} ${img.imageID}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`make-busybox-image: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
