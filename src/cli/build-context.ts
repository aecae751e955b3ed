// The build context `docker build` sends: the directory as a tar, .dockerignore applied on
// this side (moby's archive.TarWithOptions walk: an excluded directory is skipped unless an
// exception pattern starts with it), every entry owned by root, hardlinks kept, sockets left
// out. The Dockerfile and .dockerignore are always sent (build.TrimBuildFilesFromExcludes). A
// Dockerfile from stdin or from outside the context travels as `.dockerfile.<random>`, listed
// in the sent .dockerignore so it never lands in the image (AddDockerfileToBuildContext).

import * as fs from "node:fs";
import * as path from "node:path";
import { randomBytes } from "node:crypto";
import type { Readable } from "node:stream";
import { IgnoreMatcher, readIgnore } from "../lib/index.js";
import { CliError } from "./cli-context.js";
import { goErrnoText } from "./local-files.js";

interface Entry {
  /** Name in the tar (slash-separated, relative to the context). */
  name: string;
  abs: string;
  stat: fs.Stats;
  /** For a second name of an inode already sent. */
  linkTo?: string;
}

export interface ContextTar {
  stream: Readable;
  /** The `dockerfile` query value: the Dockerfile's path inside the sent context. */
  dockerfile: string;
}

const DEFAULT_DOCKERFILE = "Dockerfile";

/**
 * Where the Dockerfile is, relative to the context (cli/command/image/build/context.go
 * getDockerfileRelPath): -f is relative to the working directory; without it, Dockerfile or
 * dockerfile in the context. A path leaving the context starts with "..".
 */
export function dockerfileRelPath(contextDir: string, given: string | undefined): string {
  let file = given;
  if (!file) {
    file = path.join(contextDir, DEFAULT_DOCKERFILE);
    const lower = path.join(contextDir, DEFAULT_DOCKERFILE.toLowerCase());
    if (!fs.existsSync(file) && fs.existsSync(lower)) file = lower;
  }
  let abs = path.resolve(file);
  try {
    abs = fs.realpathSync(abs);
  } catch (err) {
    throw new CliError(`unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat ${abs}: ${goErrnoText(err)}`);
  }
  return path.relative(contextDir, abs).split(path.sep).join("/");
}


/** The context directory, checked as the CLI does. */
export function contextDirectory(arg: string): string {
  const abs = path.resolve(arg);
  let st: fs.Stats;
  try {
    st = fs.statSync(abs);
  } catch {
    throw new CliError(`unable to prepare context: path "${arg}" not found`);
  }
  if (!st.isDirectory()) throw new CliError(`unable to prepare context: context must be a directory: ${abs}`);
  try {
    return fs.realpathSync(abs);
  } catch (err) {
    throw new CliError(`unable to prepare context: ${goErrnoText(err)}`);
  }
}

/** Walk the context in lexical order, leaving out what .dockerignore excludes. */
function walk(root: string, ignore: IgnoreMatcher, keep: Set<string>): Entry[] {
  const out: Entry[] = [];
  const inodes = new Map<string, string>();
  const visit = (dirAbs: string, dirRel: string) => {
    let names: string[];
    try {
      names = fs.readdirSync(dirAbs).sort();
    } catch (err) {
      throw new CliError(`error checking context: can't stat '${dirAbs}': ${goErrnoText(err)}`);
    }
    for (const n of names) {
      const abs = path.join(dirAbs, n);
      const rel = dirRel === "" ? n : `${dirRel}/${n}`;
      const stat = fs.lstatSync(abs);
      if (!keep.has(rel) && ignore.matches(rel)) {
        if (stat.isDirectory() && ignore.mayReinclude(rel)) visit(abs, rel);
        continue;
      }
      if (stat.isSocket()) continue;
      if (stat.isFile() || stat.isDirectory()) {
        try {
          fs.accessSync(abs, fs.constants.R_OK);
        } catch {
          throw new CliError(`error checking context: no permission to read from '${abs}'`);
        }
      }
      const entry: Entry = { name: rel, abs, stat };
      if (stat.isFile() && stat.nlink > 1) {
        const key = `${stat.dev}:${stat.ino}`;
        const first = inodes.get(key);
        if (first) entry.linkTo = first;
        else inodes.set(key, rel);
      }
      out.push(entry);
      if (stat.isDirectory()) visit(abs, rel);
    }
  };
  visit(root, "");
  return out;
}

/**
 * The context of `contextDir` as a tar stream. `dockerfileText` is a Dockerfile that is not in
 * the context (read from stdin or from outside it); `dockerfileRel` is where it is otherwise.
 */
export async function contextTar(contextDir: string, dockerfileRel: string, dockerfileText?: Buffer): Promise<ContextTar> {
  const ignoreFile = path.join(contextDir, ".dockerignore");
  let ignoreText: string | undefined;
  try {
    ignoreText = fs.readFileSync(ignoreFile, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw new CliError(`error reading .dockerignore: ${goErrnoText(err)}`);
  }
  const ignore = new IgnoreMatcher(readIgnore(ignoreText ?? ""));
  const keep = new Set([".dockerignore"]);
  if (dockerfileText === undefined) keep.add(dockerfileRel);
  const entries = walk(contextDir, ignore, keep);

  const extra = new Map<string, Buffer>();
  let dockerfile = dockerfileRel;
  if (dockerfileText !== undefined) {
    dockerfile = `.dockerfile.${randomBytes(10).toString("hex")}`;
    extra.set(dockerfile, dockerfileText);
    // Without a .dockerignore the new one also lists itself (docker/cli does the same).
    extra.set(".dockerignore", Buffer.from(`${ignoreText ?? ".dockerignore"}\n${dockerfile}\n`));
  }

  const tarStream = (await import("tar-stream")).default;
  const pack = tarStream.pack();
  void (async () => {
    try {
      for (const e of entries) {
        if (e.name === ".dockerignore" && extra.has(".dockerignore")) continue;
        await addEntry(pack, e);
      }
      const now = new Date();
      for (const [name, data] of extra) {
        await new Promise<void>((resolve, reject) =>
          pack.entry({ name, size: data.length, mode: 0o600, mtime: now, uid: 0, gid: 0, type: "file" }, data, (err) => (err ? reject(err) : resolve())),
        );
      }
      pack.finalize();
    } catch (err) {
      pack.destroy(err as Error);
    }
  })();
  return { stream: pack as unknown as Readable, dockerfile };
}

type Pack = ReturnType<(typeof import("tar-stream"))["pack"]>;

async function addEntry(pack: Pack, e: Entry): Promise<void> {
  const st = e.stat;
  const base = { name: e.name, mode: st.mode & 0o7777, mtime: st.mtime, uid: 0, gid: 0, uname: "", gname: "" };
  const done = (resolve: () => void, reject: (e: Error) => void) => (err?: Error | null) => (err ? reject(err) : resolve());
  if (e.linkTo) {
    await new Promise<void>((res, rej) => pack.entry({ ...base, type: "link", linkname: e.linkTo, size: 0 }, done(res, rej)));
  } else if (st.isDirectory()) {
    await new Promise<void>((res, rej) => pack.entry({ ...base, name: `${e.name}/`, type: "directory" }, done(res, rej)));
  } else if (st.isSymbolicLink()) {
    await new Promise<void>((res, rej) => pack.entry({ ...base, type: "symlink", linkname: fs.readlinkSync(e.abs) }, done(res, rej)));
  } else if (st.isFile()) {
    await new Promise<void>((res, rej) => {
      const w = pack.entry({ ...base, type: "file", size: st.size }, done(res, rej));
      const r = fs.createReadStream(e.abs);
      r.on("error", (err) => w.destroy(err));
      r.pipe(w);
    });
  } else if (st.isFIFO()) {
    await new Promise<void>((res, rej) => pack.entry({ ...base, type: "fifo" }, done(res, rej)));
  } else if (st.isCharacterDevice() || st.isBlockDevice()) {
    const type = st.isCharacterDevice() ? "character-device" : "block-device";
    const devmajor = Math.floor(st.rdev / 256) & 0xfff;
    const devminor = (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00);
    await new Promise<void>((res, rej) => pack.entry({ ...base, type, devmajor, devminor }, done(res, rej)));
  }
}
