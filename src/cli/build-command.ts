// `pier build`: docker build with the classic builder (cli/command/image/build.go): the
// context directory sent as a tar (see build-context.ts) or stdin sent as is, Docker's flags
// as POST /build query parameters, the daemon's JSON messages printed as the classic output,
// the error's code as the exit status, -q printing only the image ID, --iidfile.

import type { Command } from "commander";
import { promises as fsp } from "node:fs";
import { Transform, type Readable } from "node:stream";
import { parseNormalizedNamed } from "../oci/index.js";
import { CliError, StatusError, type CliContext } from "./cli-context.js";
import { contextDirectory, contextTar, dockerfileRelPath } from "./build-context.js";
import { renderJSONMessage, type JSONMessage } from "./json-message.js";
import { humanSize, ramInBytes } from "./units.js";
import { keyValueMap } from "./flag-parsers.js";

export interface BuildOptions {
  tag?: string[];
  file?: string;
  buildArg?: string[];
  label?: string[];
  target?: string;
  cache?: boolean;
  cacheFrom?: string[];
  pull?: boolean;
  quiet?: boolean;
  network?: string;
  iidfile?: string;
  rm?: boolean;
  forceRm?: boolean;
  addHost?: string[];
  shmSize?: string;
  memory?: string;
  platform?: string;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** --build-arg KEY=VALUE, or KEY: its value from the environment, or null (opts.ValidateEnv). */
export function buildArgs(list: readonly string[], env: NodeJS.ProcessEnv = process.env): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const a of list) {
    const eq = a.indexOf("=");
    if (eq === 0) throw new CliError(`invalid argument "${a}" for "--build-arg" flag: invalid environment variable: ${a}`);
    if (eq > 0) out[a.slice(0, eq)] = a.slice(eq + 1);
    else out[a] = a in env ? env[a]! : null;
  }
  return out;
}


function validateTags(tags: readonly string[]): void {
  for (const t of tags) {
    try {
      parseNormalizedNamed(t);
    } catch {
      throw new CliError(`invalid argument "${t}" for "-t, --tag" flag: invalid reference format`);
    }
  }
}

async function readAll(input: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of input) chunks.push(typeof c === "string" ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks);
}

/** What goes to the daemon: the body and the dockerfile parameter. */
async function prepareContext(cli: CliContext, target: string, file: string | undefined): Promise<{ body: Readable; dockerfile?: string }> {
  if (target === "-") {
    if (file === "-") throw new CliError("invalid argument: can't use stdin for both build context and dockerfile");
    // A tar (maybe compressed) or a lone Dockerfile: the daemon tells which.
    return { body: cli.streams.stdin as unknown as Readable, dockerfile: file };
  }
  if (/^(https?:\/\/|git@|git:\/\/|github\.com\/)/.test(target)) {
    throw new CliError(`unable to prepare context: building from a remote context (${target}) is not supported by pier; clone or download it and build the directory`);
  }
  const dir = contextDirectory(target);
  if (file === "-") {
    const text = await readAll(cli.streams.stdin);
    const tar = await contextTar(dir, "", text);
    return { body: tar.stream, dockerfile: tar.dockerfile };
  }
  const rel = dockerfileRelPath(dir, file);
  if (rel === ".." || rel.startsWith("../") || rel.startsWith("/")) {
    // Outside the context: sent inside it under a random name.
    const text = await fsp.readFile(file!);
    const tar = await contextTar(dir, "", text);
    return { body: tar.stream, dockerfile: tar.dockerfile };
  }
  const tar = await contextTar(dir, rel);
  return { body: tar.stream, dockerfile: rel };
}

/** Count what is sent and print Docker's "Sending build context" progress (not with -q). */
function withUploadProgress(body: Readable, write: (t: string) => void): Readable {
  const label = "Sending build context to Docker daemon";
  let sent = 0;
  let last = 0;
  const line = () => `${label}  ${humanSize(sent).padStart(7)}`;
  // A Transform, not a "data" listener: that would start the flow before the request reads.
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      sent += chunk.length;
      const now = Date.now();
      if (now - last >= 100) {
        last = now;
        write(`${line()}\r`);
      }
      cb(null, chunk);
    },
    flush(cb) {
      write(`${line()}\r\r\n`);
      cb();
    },
  });
  body.on("error", (err) => counter.destroy(err));
  body.pipe(counter);
  return counter;
}

export async function runBuild(cli: CliContext, target: string, o: BuildOptions): Promise<void> {
  const tags = o.tag ?? [];
  validateTags(tags);
  // A failed build must not leave the previous ID behind.
  if (o.iidfile) await fsp.rm(o.iidfile, { force: true });
  const ctx = await prepareContext(cli, target, o.file);
  // With -q all output is kept back: the build's (only the image ID) goes to stdout at the
  // end, everything goes to stderr if the build fails.
  let heldProgress = "";
  let heldBuild = "";
  const body = withUploadProgress(ctx.body, o.quiet ? (t) => void (heldProgress += t) : (t) => cli.out(t));

  const query = {
    t: tags,
    dockerfile: ctx.dockerfile,
    buildargs: o.buildArg?.length ? JSON.stringify(buildArgs(o.buildArg)) : undefined,
    labels: o.label?.length ? JSON.stringify(keyValueMap(o.label)) : undefined,
    target: o.target,
    nocache: o.cache === false ? true : undefined,
    cachefrom: o.cacheFrom?.length ? JSON.stringify(o.cacheFrom) : undefined,
    pull: o.pull || undefined,
    q: o.quiet || undefined,
    networkmode: o.network,
    rm: o.rm !== false,
    forcerm: o.forceRm || undefined,
    extrahosts: o.addHost?.length ? o.addHost : undefined,
    shmsize: o.shmSize ? ramInBytes(o.shmSize) : undefined,
    memory: o.memory ? ramInBytes(o.memory) : undefined,
    platform: o.platform,
  };
  let imageID = "";
  let failure: { message: string; code: number } | undefined;
  await cli.client.jsonLines("POST", "/build", { query, rawBody: body, headers: { "content-type": "application/x-tar" } }, (msg) => {
    const jm = msg as JSONMessage;
    if (failure) return;
    if (jm.errorDetail?.message || jm.error) {
      failure = { message: jm.errorDetail?.message || jm.error || "", code: jm.errorDetail?.code || 1 };
      return;
    }
    if (jm.aux !== undefined) {
      const id = (jm.aux as { ID?: unknown }).ID;
      if (typeof id === "string") imageID = id;
      return;
    }
    const text = renderJSONMessage(jm);
    if (!text) return;
    if (o.quiet) heldBuild += text;
    else cli.out(text);
  });
  if (failure) {
    if (o.quiet) cli.err(heldProgress + heldBuild);
    throw new StatusError(failure.code, failure.message);
  }
  if (o.quiet) cli.out(heldBuild);
  if (o.iidfile) {
    if (!imageID) throw new CliError("Server did not provide an image ID. Cannot write --iidfile");
    await fsp.writeFile(o.iidfile, imageID, { mode: 0o666 });
  }
}

export function registerBuild(parent: Command, cli: CliContext): Command {
  return parent
    .command("build")
    .description("Build an image from a Dockerfile")
    .usage("[OPTIONS] PATH | URL | -")
    .argument("<context>")
    .option("-t, --tag <name:tag>", "Name and optionally a tag in the 'name:tag' format", collect)
    .option("-f, --file <string>", "Name of the Dockerfile (Default is 'PATH/Dockerfile')")
    .option("--build-arg <list>", "Set build-time variables", collect)
    .option("--label <list>", "Set metadata for an image", collect)
    .option("--target <string>", "Set the target build stage to build.")
    .option("--no-cache", "Do not use cache when building the image")
    .option("--cache-from <strings>", "Images to consider as cache sources", collect)
    .option("--pull", "Always attempt to pull a newer version of the image")
    .option("-q, --quiet", "Suppress the build output and print image ID on success")
    .option("--network <string>", "Set the networking mode for the RUN instructions during build")
    .option("--iidfile <string>", "Write the image ID to the file")
    .option("--rm", "Remove intermediate containers after a successful build (default true)")
    .option("--no-rm", "Keep intermediate containers after a successful build")
    .option("--force-rm", "Always remove intermediate containers")
    .option("--add-host <list>", "Add a custom host-to-IP mapping (host:ip)", collect)
    .option("--shm-size <bytes>", "Size of /dev/shm")
    .option("-m, --memory <bytes>", "Memory limit")
    .option("--platform <string>", "Set platform if server is multi-platform capable")
    .action(async (target: string, opts: BuildOptions) => {
      await runBuild(cli, target, opts);
    });
}
