// The classic Dockerfile builder (moby's builder/dockerfile): stages, instructions, build
// args, one image per step (history and config as Docker writes them), a layer cache found
// among the images themselves (parent + container_config), RUN steps through a BuildRunner.

import * as fs from "node:fs";
import { promises as fsp } from "node:fs";
import * as path from "node:path";
import { randomBytes } from "node:crypto";
import type { Readable } from "node:stream";
import { invalidParameter, notFound, notImplemented, PierError } from "../errdefs/index.js";
import type { ImageService } from "../image/index.js";
import { apiConfig, exposedPorts } from "../image/index.js";
import { cleanRelative, rfc3339Nano, secureJoin, shortID, silentLogger, type Logger } from "../lib/index.js";
import { familiarString, hostArchitecture, parseNormalizedNamed, type ContainerConfigDefaults, type HealthConfig } from "../oci/index.js";
import type { Snapshotter } from "../snapshot/index.js";
import { parseSignal } from "../sys/index.js";
import { applyDockerignore, receiveContext, removeIgnoredSpecials, type BuildContext } from "./context.js";
import { copyInto, hashSources, parseChmod, parseChown, resolveInContext, resolveSources, type CopySource } from "./copy.js";
import { downloadURL } from "./download.js";
import { goDuration, goQuote, goQuoteRune, goQuoteSlice, parseGoDuration } from "./format.js";
import { LocalImageCache, normalizeConfig, SourceImageCache, type ImageCache } from "./image-cache.js";
import { nodeFromLine, parseDockerfile, parseWords, type Node } from "./parser.js";
import { envMap, Lexer } from "./shell.js";

// ---------------------------------------------------------------- public types

/** What a RUN step's container is made from. */
export interface RunRequest {
  /** Image ID the container starts from. */
  image: string;
  /** The whole command (no entrypoint is used). */
  cmd: string[];
  env: string[];
  workdir: string;
  user: string;
  networkMode?: string;
  extraHosts?: string[];
  shmSize?: number;
  memory?: number;
  memorySwap?: number;
  cpuShares?: number;
  cpuSetCpus?: string;
  cpuSetMems?: string;
  cpuPeriod?: number;
  cpuQuota?: number;
}

/**
 * Runs RUN steps' containers (the daemon implements it over the container service). The
 * container IDs it returns must be the snapshotter's container IDs: the builder reads the
 * container's changes from the snapshotter once it has exited.
 */
export interface BuildRunner {
  /** Create (do not start) the container; returns its ID. */
  create(req: RunRequest): Promise<string>;
  /** Start it, stream its output, resolve with its exit code once it has exited. */
  run(containerID: string, output: (chunk: Buffer, stream: 1 | 2) => void): Promise<number>;
  /** Remove it (forcefully), with its filesystem. */
  remove(containerID: string): Promise<void>;
}

export interface BuildRequest {
  /** Path of the Dockerfile inside the context (default "Dockerfile"). */
  dockerfile?: string;
  tags?: string[];
  buildArgs?: Record<string, string | null>;
  target?: string;
  noCache?: boolean;
  /** Pull every base image (not stages, not scratch) even when present (--pull). */
  pull?: boolean;
  /** Images whose parent chains are the only cache sources (--cache-from). */
  cacheFrom?: string[];
  /** Remove intermediate containers after a successful step (default true). */
  remove?: boolean;
  /** Remove intermediate containers also after a failed step. */
  forceRemove?: boolean;
  labels?: Record<string, string>;
  networkMode?: string;
  extraHosts?: string[];
  shmSize?: number;
  memory?: number;
  memorySwap?: number;
  cpuShares?: number;
  cpuSetCpus?: string;
  cpuSetMems?: string;
  cpuPeriod?: number;
  cpuQuota?: number;
  platform?: string;
}

/** Where progress goes: Docker's {"stream": …} and {"aux": …} messages. */
export interface BuildOutput {
  stream(text: string): void;
  aux(value: unknown): void;
}

export interface BuildResult {
  imageID: string;
  tags: string[];
}

/** An error with the code Docker puts in errorDetail (a RUN's exit code). */
export class BuildError extends PierError {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super("InvalidParameter", message);
  }
}

export interface BuilderOptions {
  /** <data-root>/builder: temporary contexts and mounts. */
  root: string;
  images: ImageService;
  snapshots: Snapshotter;
  runner: BuildRunner;
  log?: Logger;
}

// ---------------------------------------------------------------- internals

const BUILTIN_ARGS = new Set(["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"]);
const DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const DEFAULT_SHELL = ["/bin/sh", "-c"];
const STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;

/** moby's BuildArgs. */
class BuildArgs {
  allowed = new Map<string, string | undefined>();
  meta = new Map<string, string | undefined>();
  referenced = new Set<string>();
  constructor(readonly fromOptions: Map<string, string | undefined>) {}

  cloneForStage(): BuildArgs {
    const b = new BuildArgs(this.fromOptions);
    b.meta = new Map(this.meta);
    b.referenced = this.referenced; // shared: the unused-args warning looks at all stages
    return b;
  }

  addArg(key: string, value: string | undefined): void {
    this.allowed.set(key, value);
    this.referenced.add(key);
  }

  addMeta(key: string, value: string | undefined): void {
    this.meta.set(key, value);
  }

  private get(key: string, mapping: Map<string, string | undefined>): string | undefined {
    const dflt = mapping.get(key);
    const opt = this.fromOptions.get(key);
    if (this.fromOptions.has(key) && opt !== undefined) return opt;
    if (dflt === undefined) return this.meta.get(key);
    return dflt;
  }

  private all(mapping: Map<string, string | undefined>): Map<string, string> {
    const out = new Map<string, string>();
    for (const k of new Set([...mapping.keys(), ...BUILTIN_ARGS])) {
      if (!mapping.has(k) && !BUILTIN_ARGS.has(k)) continue;
      const v = this.get(k, mapping);
      if (v !== undefined) out.set(k, v);
    }
    return out;
  }

  allAllowed(): Map<string, string> {
    return this.all(this.allowed);
  }

  allMeta(): Map<string, string> {
    return this.all(this.meta);
  }

  /** Allowed args with a value that the env does not set, as "k=v", sorted. */
  filterAllowed(env: readonly string[] | null | undefined): string[] {
    const e = envMap(env ?? []);
    const out: string[] = [];
    for (const [k, v] of this.allAllowed()) if (!e.has(k)) out.push(`${k}=${v}`);
    return out.sort();
  }

  isReferencedOrNotBuiltin(key: string): boolean {
    return this.allowed.has(key) || !BUILTIN_ARGS.has(key);
  }
}

interface Stage {
  index: number;
  name: string;
  base: string;
  platform?: string;
  fromNode: Node;
  commands: Node[];
}

interface State {
  stage: Stage;
  imageID?: string;
  config: ContainerConfigDefaults & Record<string, unknown>;
  args: BuildArgs;
  cmdSet: boolean;
  maintainer?: string;
}

interface Session {
  req: BuildRequest;
  out: BuildOutput;
  ctx: BuildContext;
  lexer: Lexer;
  escapeToken: string;
  stages: Stage[];
  /** Image ID built per stage index. */
  results: Map<number, string | undefined>;
  /** Where cached steps come from; undefined with --no-cache. */
  cache?: ImageCache;
  cacheBusted: boolean;
  step: number;
  total: number;
  tmp: string;
}

export class Builder {
  private readonly images: ImageService;
  private readonly snapshots: Snapshotter;
  private readonly runner: BuildRunner;
  private readonly log: Logger;
  readonly root: string;

  constructor(o: BuilderOptions) {
    this.images = o.images;
    this.snapshots = o.snapshots;
    this.runner = o.runner;
    this.log = o.log ?? silentLogger;
    this.root = o.root;
  }

  /** Remove what a crashed daemon left (contexts, mounts of build steps). */
  async init(): Promise<void> {
    await fsp.mkdir(this.root, { recursive: true, mode: 0o700 });
    await fsp.rm(path.join(this.root, "tmp"), { recursive: true, force: true });
    await fsp.mkdir(path.join(this.root, "tmp"), { recursive: true, mode: 0o700 });
    const mounts = path.join(this.snapshots.root, "containers");
    for (const id of await fsp.readdir(mounts).catch(() => [] as string[])) {
      if (id.startsWith("build-")) await this.snapshots.removeContainer(id).catch(() => {});
    }
  }

  /** Validate what can be checked before any output (tags, platform): errors are HTTP 400s. */
  static validate(req: BuildRequest): void {
    for (const t of req.tags ?? []) {
      const ref = parseNormalizedNamed(t);
      if (ref.digest) throw invalidParameter(`invalid reference format: ${t} (a tag cannot contain a digest)`);
    }
    if (req.platform) {
      const [os, arch] = req.platform.toLowerCase().split("/");
      if ((os && os !== "linux") || (arch && arch !== hostArchitecture())) {
        throw invalidParameter(`platform ${req.platform} is not supported: this builder builds for linux/${hostArchitecture()} only`);
      }
    }
  }

  async build(body: Readable, req: BuildRequest, out: BuildOutput): Promise<BuildResult> {
    Builder.validate(req);
    const tmp = path.join(this.root, "tmp");
    const dockerfileName = req.dockerfile || "Dockerfile";
    const ctx = await receiveContext(body, tmp, dockerfileName);
    try {
      const text = await this.readDockerfile(ctx, dockerfileName);
      await applyDockerignore(ctx, dockerfileName);
      await removeIgnoredSpecials(ctx, dockerfileName);
      const parsed = parseDockerfile(text);
      for (const w of parsed.warnings) out.stream(`[WARNING]: ${w}\n`);
      const session: Session = {
        req,
        out,
        ctx,
        lexer: new Lexer(parsed.escapeToken),
        escapeToken: parsed.escapeToken,
        stages: [],
        results: new Map(),
        cache: req.noCache ? undefined : req.cacheFrom?.length ? new SourceImageCache(this.images, req.cacheFrom, this.log) : new LocalImageCache(this.images),
        cacheBusted: false,
        step: 0,
        total: 0,
        tmp,
      };
      return await this.run(session, parsed.nodes);
    } finally {
      await ctx.dispose();
    }
  }

  private async readDockerfile(ctx: BuildContext, name: string): Promise<string> {
    const rel = cleanRelative(name);
    const tryRead = async (r: string) => {
      try {
        const abs = resolveInContext(ctx.root, r, name);
        return await fsp.readFile(abs, "utf8");
      } catch (err) {
        if (err instanceof PierError) throw err;
        return undefined;
      }
    };
    let text = await tryRead(rel);
    if (text === undefined && (name === "Dockerfile" || name === "")) text = await tryRead("dockerfile");
    if (text === undefined) throw invalidParameter(`Cannot locate specified Dockerfile: ${name}`);
    if (text.trim() === "") throw invalidParameter("the Dockerfile (" + name + ") cannot be empty");
    return text;
  }

  // ---------------------------------------------------------------- stages

  private async run(s: Session, nodes: Node[]): Promise<BuildResult> {
    const metaArgs: Node[] = [];
    let cur: Stage | undefined;
    for (const n of nodes) {
      if (n.cmd === "from") {
        const { base, name, platform } = this.parseFrom(n);
        if (name) {
          if (s.stages.some((st) => st.name === name)) throw invalidParameter(`duplicate name ${name}`);
        }
        cur = { index: s.stages.length, name, base, platform, fromNode: n, commands: [] };
        s.stages.push(cur);
        continue;
      }
      if (!cur) {
        if (n.cmd !== "arg") throw invalidParameter(`dockerfile parse error line ${n.line}: no build stage in current context`);
        metaArgs.push(n);
        continue;
      }
      cur.commands.push(n);
    }
    if (s.stages.length === 0) throw invalidParameter("no build stage in current context");

    let targetIx = s.stages.length - 1;
    if (s.req.target) {
      const t = s.req.target.toLowerCase();
      targetIx = s.stages.findIndex((st) => st.name === t);
      if (targetIx < 0) throw invalidParameter(`failed to reach build target ${s.req.target} in Dockerfile`);
    }
    // --label: one LABEL step per label, sorted by key, at the end of the target stage, its
    // value never expanded (moby's buildLabelOptions / NewLabelCommand(k, v, true)).
    const labels = s.req.labels ?? {};
    for (const k of Object.keys(labels).sort()) {
      s.stages[targetIx]!.commands.push({ cmd: "label", original: `LABEL ${k}=${labels[k]}`, flags: [], args: [k, labels[k]!], json: false, line: 0, noExpand: true });
    }
    const needed = this.neededStages(s.stages, targetIx);

    s.total = metaArgs.length;
    for (const ix of needed) s.total += 1 + s.stages[ix]!.commands.length;

    const fromOptions = new Map<string, string | undefined>();
    for (const [k, v] of Object.entries(s.req.buildArgs ?? {})) fromOptions.set(k, v ?? undefined);
    const global = new BuildArgs(fromOptions);
    for (const n of metaArgs) {
      this.printStep(s, n);
      const env = [...global.allAllowed()].map(([k, v]) => `${k}=${v}`);
      for (const [k, v] of this.parseArgs(s, n, env)) {
        global.addArg(k, v);
        global.addMeta(k, v);
      }
    }

    let last: string | undefined;
    for (const ix of needed) {
      const stage = s.stages[ix]!;
      const st = await this.beginStage(s, stage, global);
      for (const n of stage.commands) {
        this.printStep(s, n);
        await this.dispatch(s, st, n);
        s.out.stream(` ---> ${st.imageID ? shortID(st.imageID) : ""}\n`);
      }
      s.results.set(ix, st.imageID);
      if (st.imageID) s.out.aux({ ID: st.imageID });
      last = st.imageID;
    }
    const leftover = [...fromOptions.keys()].filter((k) => !global.referenced.has(k) && !BUILTIN_ARGS.has(k)).sort();
    if (leftover.length > 0) s.out.stream(`[Warning] One or more build-args [${leftover.join(" ")}] were not consumed\n`);
    if (!last) throw invalidParameter("No image was generated. Is your Dockerfile empty?");
    s.out.stream(`Successfully built ${shortID(last)}\n`);
    const tags: string[] = [];
    for (const t of s.req.tags ?? []) {
      const ref = parseNormalizedNamed(t);
      const familiar = familiarString(ref);
      await this.images.tag(last, familiar);
      tags.push(familiar);
      s.out.stream(`Successfully tagged ${familiar}\n`);
    }
    return { imageID: last, tags };
  }

  private parseFrom(n: Node): { base: string; name: string; platform?: string } {
    const a = n.args;
    if (a.length !== 1 && !(a.length === 3 && a[1]!.toLowerCase() === "as")) {
      throw invalidParameter(`dockerfile parse error line ${n.line}: FROM requires either one or three arguments`);
    }
    const name = a.length === 3 ? a[2]!.toLowerCase() : "";
    if (name && !STAGE_NAME.test(name)) throw invalidParameter(`invalid name for build stage: "${a[2]}", name can't start with a number or contain symbols`);
    const flags = parseFlags(n, ["platform"]);
    return { base: a[0]!, name, platform: flags.platform as string | undefined };
  }

  /** The target and the stages it depends on (FROM <stage>, COPY --from=<stage>), in order. */
  private neededStages(stages: Stage[], target: number): number[] {
    const need = new Set<number>();
    const refOf = (ref: string, before: number): number | undefined => {
      const r = ref.toLowerCase();
      for (let i = before - 1; i >= 0; i--) if (stages[i]!.name === r) return i;
      if (/^\d+$/.test(r) && Number(r) < before) return Number(r);
      return undefined;
    };
    const visit = (ix: number) => {
      if (need.has(ix)) return;
      need.add(ix);
      const st = stages[ix]!;
      const base = refOf(st.base, ix);
      if (base !== undefined) visit(base);
      const scan = (nodes: Node[]) => {
        for (const c of nodes) {
          for (const f of c.flags) {
            const m = /^--from=(.*)$/.exec(f);
            if (m && c.cmd === "copy") {
              const d = refOf(m[1]!, ix);
              if (d !== undefined) visit(d);
            }
          }
          if (c.next) scan([c.next]);
        }
      };
      scan(st.commands);
    };
    visit(target);
    return [...need].sort((a, b) => a - b);
  }

  private printStep(s: Session, n: Node): void {
    s.step++;
    s.out.stream(`Step ${s.step}/${s.total} : ${n.original}`);
    s.out.stream("\n");
  }

  private async beginStage(s: Session, stage: Stage, global: BuildArgs): Promise<State> {
    this.printStep(s, stage.fromNode);
    const args = global.cloneForStage();
    const metaEnv = [...args.allMeta()].map(([k, v]) => `${k}=${v}`);
    const baseName = s.lexer.processWord(stage.base, metaEnv);
    if (stage.platform !== undefined) {
      const p = s.lexer.processWord(stage.platform, metaEnv);
      Builder.validate({ platform: p });
    }
    if (baseName === "") throw invalidParameter(`base name (${stage.base}) should not be blank`);
    const st: State = { stage, config: {}, args, cmdSet: false };
    const lower = baseName.toLowerCase();
    let fromStage: number | undefined;
    for (let i = stage.index - 1; i >= 0; i--) if (s.stages[i]!.name === lower) fromStage = i;
    if (fromStage !== undefined) {
      st.imageID = s.results.get(fromStage);
    } else if (lower !== "scratch") {
      st.imageID = this.imageFor(s, baseName, () =>
        notFound(`pull access denied for ${baseName}, repository does not exist or may require 'docker login': the image is not in this pierd and pulling is not supported yet (load it with "docker load")`),
      );
    }
    if (st.imageID) {
      const c = this.images.imageConfig(st.imageID);
      st.config = structuredClone((c.config ?? {}) as State["config"]);
    }
    const env = st.config.Env ?? [];
    if (!env.some((e) => e.startsWith("PATH=") || e === "PATH")) st.config.Env = [...env, DEFAULT_PATH];
    delete (st.config as Record<string, unknown>).OpenStdin;
    delete (st.config as Record<string, unknown>).StdinOnce;
    await this.processOnBuild(s, st);
    s.out.stream(` ---> ${st.imageID ? shortID(st.imageID) : ""}\n`);
    return st;
  }

  private async processOnBuild(s: Session, st: State): Promise<void> {
    const triggers = st.config.OnBuild ?? [];
    st.config.OnBuild = null;
    if (triggers.length === 0) return;
    s.out.stream(`# Executing ${triggers.length} build ${triggers.length > 1 ? "triggers" : "trigger"}\n`);
    for (const t of triggers) {
      const parsed = parseDockerfile(t);
      for (const n of parsed.nodes) {
        const kw = n.cmd.toUpperCase();
        if (kw === "ONBUILD") throw invalidParameter("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
        if (kw === "MAINTAINER" || kw === "FROM") throw invalidParameter(`${kw} isn't allowed as an ONBUILD trigger`);
      }
      for (const n of parsed.nodes) await this.dispatch(s, st, n);
    }
  }

  // ---------------------------------------------------------------- instructions

  private envFor(st: State): Map<string, string> {
    const env = st.config.Env ?? [];
    return envMap([...env, ...st.args.filterAllowed(env)]);
  }

  private shell(st: State): string[] {
    return st.config.Shell && st.config.Shell.length > 0 ? st.config.Shell : DEFAULT_SHELL;
  }

  private async dispatch(s: Session, st: State, n: Node): Promise<void> {
    const word = n.noExpand ? (w: string) => w : (w: string) => s.lexer.processWord(w, this.envFor(st));
    switch (n.cmd) {
      case "env": {
        noFlags(n);
        const env = [...(st.config.Env ?? [])];
        let msg = "ENV";
        for (let i = 0; i < n.args.length; i += 2) {
          const k = word(n.args[i]!);
          const v = word(n.args[i + 1]!);
          if (k === "") throw invalidParameter("ENV names can not be blank");
          msg += ` ${k}=${v}`;
          const idx = env.findIndex((e) => (e.includes("=") ? e.slice(0, e.indexOf("=")) : e) === k);
          if (idx >= 0) env[idx] = `${k}=${v}`;
          else env.push(`${k}=${v}`);
        }
        st.config.Env = env;
        return this.commitMeta(s, st, msg);
      }
      case "label": {
        noFlags(n);
        const labels = { ...(st.config.Labels ?? {}) };
        let msg = "LABEL";
        for (let i = 0; i < n.args.length; i += 2) {
          const k = word(n.args[i]!);
          const v = word(n.args[i + 1]!);
          if (k === "") throw invalidParameter("LABEL names can not be blank");
          labels[k] = v;
          msg += ` ${k}=${v}`;
        }
        st.config.Labels = labels;
        return this.commitMeta(s, st, msg);
      }
      case "maintainer": {
        noFlags(n);
        if (n.args.length === 0) throw invalidParameter("MAINTAINER requires exactly one argument");
        st.maintainer = n.args[0]!;
        return this.commitMeta(s, st, `MAINTAINER ${st.maintainer}`);
      }
      case "expose": {
        noFlags(n);
        if (n.args.length === 0) throw invalidParameter("EXPOSE requires at least one argument");
        const ports = n.args.map(word);
        const exposed = { ...(st.config.ExposedPorts ?? {}) };
        for (const p of exposedPorts(ports)) exposed[p] = {};
        st.config.ExposedPorts = exposed;
        return this.commitMeta(s, st, `EXPOSE ${[...ports].sort().join(" ")}`);
      }
      case "user": {
        noFlags(n);
        if (n.args.length !== 1) throw invalidParameter("USER requires exactly one argument");
        st.config.User = word(n.args[0]!);
        return this.commitMeta(s, st, `USER ${st.config.User}`);
      }
      case "volume": {
        noFlags(n);
        if (n.args.length === 0) throw invalidParameter("VOLUME requires at least one argument");
        const vols = { ...(st.config.Volumes ?? {}) };
        const list: string[] = [];
        for (const raw of n.args) {
          const v = word(raw).trim();
          if (v === "") throw invalidParameter("VOLUME specified can not be an empty string");
          vols[v] = {};
          list.push(v);
        }
        st.config.Volumes = vols;
        return this.commitMeta(s, st, `VOLUME [${list.join(" ")}]`);
      }
      case "stopsignal": {
        noFlags(n);
        if (n.args.length !== 1) throw invalidParameter("STOPSIGNAL requires exactly one argument");
        const sig = word(n.args[0]!);
        if (parseSignal(sig) === undefined) throw invalidParameter(`Invalid signal: ${sig}`);
        st.config.StopSignal = sig;
        return this.commitMeta(s, st, `STOPSIGNAL ${sig}`);
      }
      case "workdir":
        noFlags(n);
        return this.workdir(s, st, n, word);
      case "cmd": {
        noFlags(n);
        const cmd = n.json ? n.args : n.args.length ? [...this.shell(st), n.args[0]!] : [];
        st.config.Cmd = cmd;
        delete st.config.ArgsEscaped;
        if (n.args.length > 0) st.cmdSet = true;
        return this.commitMeta(s, st, `CMD ${goQuoteSlice(cmd)}`);
      }
      case "entrypoint": {
        noFlags(n);
        const ep = n.json ? n.args : n.args.length ? [...this.shell(st), n.args[0]!] : [];
        st.config.Entrypoint = ep;
        delete st.config.ArgsEscaped;
        if (!st.cmdSet) st.config.Cmd = null;
        return this.commitMeta(s, st, `ENTRYPOINT ${goQuoteSlice(ep)}`);
      }
      case "shell": {
        noFlags(n);
        if (!n.json) throw invalidParameter("SHELL requires the arguments to be in JSON form");
        if (n.args.length === 0) throw invalidParameter("SHELL requires at least one argument");
        st.config.Shell = [...n.args];
        return this.commitMeta(s, st, `SHELL [${n.args.join(" ")}]`);
      }
      case "healthcheck": {
        st.config.Healthcheck = this.parseHealthcheck(n);
        return this.commitMeta(s, st, `HEALTHCHECK ${formatHealth(st.config.Healthcheck)}`);
      }
      case "onbuild": {
        noFlags(n);
        const trigger = n.args[0]!;
        const kw = n.next!.cmd.toUpperCase();
        if (kw === "ONBUILD") throw invalidParameter("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
        if (kw === "MAINTAINER" || kw === "FROM") throw invalidParameter(`${kw} isn't allowed as an ONBUILD trigger`);
        st.config.OnBuild = [...(st.config.OnBuild ?? []), trigger];
        return this.commitMeta(s, st, `ONBUILD ${trigger}`);
      }
      case "arg": {
        noFlags(n);
        const env = [...this.envFor(st)].map(([k, v]) => `${k}=${v}`);
        const parts: string[] = [];
        for (const [k, v] of this.parseArgs(s, n, env)) {
          parts.push(v === undefined ? k : `${k}=${v}`);
          st.args.addArg(k, v);
        }
        return this.commitMeta(s, st, `ARG ${parts.join(" ")}`);
      }
      case "run":
        return this.runStep(s, st, n);
      case "copy":
      case "add":
        return this.copyStep(s, st, n, word);
      case "from":
        throw invalidParameter("FROM isn't allowed here");
      default:
        throw invalidParameter(`dockerfile parse error line ${n.line}: unknown instruction: ${n.cmd.toUpperCase()}`);
    }
  }

  private parseArgs(s: Session, n: Node, env: string[]): Array<[string, string | undefined]> {
    if (n.args.length === 0) throw invalidParameter("ARG requires at least one argument");
    const out: Array<[string, string | undefined]> = [];
    const map = envMap(env);
    for (const w of n.args) {
      const eq = w.indexOf("=");
      let k = eq < 0 ? w : w.slice(0, eq);
      let v = eq < 0 ? undefined : w.slice(eq + 1);
      k = s.lexer.processWord(k, map);
      if (v !== undefined) v = s.lexer.processWord(v, map);
      if (k === "") throw invalidParameter("ARG names can not be blank");
      out.push([k, v]);
      if (v !== undefined) map.set(k, v);
    }
    return out;
  }

  private parseHealthcheck(n: Node): HealthConfig {
    const flags = parseFlags(n, ["interval", "timeout", "start-period", "start-interval", "retries"]);
    const rest = (n.args[0] ?? "").trim();
    const m = /^(\S+)\s*([\s\S]*)$/.exec(rest);
    if (!m) throw invalidParameter("HEALTHCHECK requires an argument");
    const typ = m[1]!.toUpperCase();
    if (typ === "NONE") {
      if (m[2]!.trim() !== "" || Object.keys(flags).length > 0) throw invalidParameter("HEALTHCHECK NONE takes no arguments");
      return { Test: ["NONE"] };
    }
    if (typ !== "CMD") throw invalidParameter(`Unknown type "${typ}" in HEALTHCHECK (try CMD)`);
    const body = m[2]!;
    let test: string[];
    const j = body.trim().startsWith("[") ? safeJSONArray(body) : undefined;
    if (j) test = ["CMD", ...j];
    else test = ["CMD-SHELL", body];
    const hc: HealthConfig = { Test: test };
    const dur = (name: string, key: "Interval" | "Timeout" | "StartPeriod" | "StartInterval") => {
      const v = flags[name];
      if (v === undefined || v === true) return;
      const ns = parseGoDuration(String(v));
      if (ns !== 0 && ns < 1e6) throw invalidParameter(`${key === "StartPeriod" ? "Start period" : key === "StartInterval" ? "Start interval" : key} "${v}" cannot be less than 1ms`);
      if (ns < 0) throw invalidParameter(`${key} cannot be negative`);
      if (ns > 0) hc[key] = ns;
    };
    dur("interval", "Interval");
    dur("timeout", "Timeout");
    dur("start-period", "StartPeriod");
    dur("start-interval", "StartInterval");
    if (flags.retries !== undefined && flags.retries !== true) {
      const r = Number(flags.retries);
      if (!Number.isInteger(r)) throw invalidParameter(`invalid retries value: ${flags.retries}`);
      if (r < 0) throw invalidParameter("--retries cannot be negative");
      if (r > 0) hc.Retries = r;
    }
    return hc;
  }

  // ---------------------------------------------------------------- commits

  /** A metadata-only step: an image with an empty layer, unless the cache has it. */
  private async commitMeta(s: Session, st: State, comment: string): Promise<void> {
    const probe = { ...st.config, Cmd: [...this.shell(st), "#(nop) ", comment] };
    if (await this.probeCache(s, st, probe)) return;
    st.imageID = await this.commit(st, probe, undefined);
  }

  /** moby's imageProber: once a step misses, every later step is built. */
  private async probeCache(s: Session, st: State, probe: ContainerConfigDefaults): Promise<boolean> {
    if (!s.cache || s.cacheBusted) return false;
    const hit = await s.cache.get(st.imageID, probe);
    if (!hit) {
      s.cacheBusted = true;
      return false;
    }
    s.out.stream(" ---> Using cache\n");
    st.imageID = hit;
    return true;
  }

  /**
   * Register the step's image: the parent's layers (plus the new one), the parent's history
   * plus this step, the state's config, the probe config as container_config.
   */
  private async commit(st: State, probe: ContainerConfigDefaults, layer: { diffID: string; digest: string; size: number; mediaType: string } | undefined, containerID?: string): Promise<string> {
    const parentID = st.imageID;
    const parent = parentID ? this.images.imageConfig(parentID) : undefined;
    const parentRec = parentID ? this.images.get(parentID) : undefined;
    const created = rfc3339Nano(Date.now());
    const createdBy = (probe.Cmd ?? []).join(" ");
    const history = [...(parent?.history ?? []), { created, created_by: createdBy, ...(layer ? {} : { empty_layer: true }) }];
    const diffIDs = [...(parent?.rootfs?.diff_ids ?? []), ...(layer ? [layer.diffID] : [])];
    const blobs = [
      ...(parentRec?.layers ?? []).map((l) => ({ digest: l.digest, mediaType: l.mediaType, size: l.size })),
      ...(layer ? [{ digest: layer.digest, mediaType: layer.mediaType, size: layer.size }] : []),
    ];
    const config = normalizeConfig(apiConfig({ ...st.config, Image: parentID ?? "" }));
    const containerConfig = normalizeConfig(apiConfig({ ...probe, Hostname: containerID ? containerID.slice(0, 12) : "", Image: parentID ?? "" }));
    const img: Record<string, unknown> = {
      architecture: parent?.architecture || hostArchitecture(),
      ...(st.maintainer ? { author: st.maintainer } : parent?.author ? { author: parent.author } : {}),
      config,
      ...(containerID ? { container: containerID } : {}),
      container_config: containerConfig,
      created,
      history,
      os: "linux",
      rootfs: { type: "layers", diff_ids: diffIDs },
      ...(parent?.variant ? { variant: parent.variant } : {}),
    };
    const rec = await this.images.createImage(Buffer.from(JSON.stringify(img)), { layers: blobs, ...(parentID ? { parent: parentID } : {}) });
    return rec.id;
  }

  // ---------------------------------------------------------------- WORKDIR

  private async workdir(s: Session, st: State, n: Node, word: (w: string) => string): Promise<void> {
    if (n.args.length !== 1) throw invalidParameter("WORKDIR requires exactly one argument");
    const w = word(n.args[0]!);
    if (w === "") throw invalidParameter("WORKDIR requires exactly one argument");
    st.config.WorkingDir = w.startsWith("/") ? path.posix.normalize(w) : path.posix.join("/", st.config.WorkingDir || "/", w);
    if (st.config.WorkingDir.length > 1) st.config.WorkingDir = st.config.WorkingDir.replace(/\/+$/, "");
    const comment = `WORKDIR ${st.config.WorkingDir}`;
    const probe = { ...st.config, Cmd: [...this.shell(st), `#(nop) ${comment}`] };
    if (await this.probeCache(s, st, probe)) return;
    const wd = st.config.WorkingDir;
    const layer = await this.withRootfs(st, async (rootfs) => {
      let cur = "/";
      for (const c of wd.split("/").filter(Boolean)) {
        cur = path.posix.join(cur, c);
        const abs = await secureJoin(rootfs, cur);
        const stt = fs.lstatSync(abs, { throwIfNoEntry: false });
        if (stt?.isDirectory()) continue;
        if (stt) throw invalidParameter(`cannot create WORKDIR ${wd}: ${cur} is not a directory`);
        fs.mkdirSync(abs, { mode: 0o755 });
        fs.chmodSync(abs, 0o755);
      }
    });
    st.imageID = await this.commit(st, probe, layer);
  }

  /**
   * Mount the current image's filesystem with a fresh upper dir, let `fn` change it, and
   * return the changes as a layer (undefined when nothing changed).
   */
  private async withRootfs(st: State, fn: (rootfs: string) => Promise<void>): Promise<{ diffID: string; digest: string; size: number; mediaType: string } | undefined> {
    const id = `build-${randomBytes(12).toString("hex")}`;
    const chain = st.imageID ? this.images.chainIDOf(st.imageID) : undefined;
    try {
      const rootfs = await this.snapshots.mountContainer(id, chain);
      await fn(rootfs);
      await this.snapshots.unmountContainer(id);
      // The mount goes away with this step: its upper dir itself becomes the layer.
      return await this.layerFromUpper(id, chain, true);
    } finally {
      await this.snapshots.removeContainer(id).catch((err) => this.log.warn("could not remove build mount", { id, err }));
    }
  }

  private async layerFromUpper(containerID: string, chain: string | undefined, takeUpper = false) {
    const upper = this.snapshots.containerUpperDir(containerID);
    if (fs.readdirSync(upper).length === 0) return undefined;
    const stage = takeUpper ? (diffID: string) => this.snapshots.stageContainerUpper(containerID, diffID) : undefined;
    const res = await this.images.addLayer(chain, this.snapshots.diffContainer(containerID), stage);
    return { diffID: res.diffID, digest: res.digest, size: res.size, mediaType: res.mediaType };
  }

  // ---------------------------------------------------------------- RUN

  private async runStep(s: Session, st: State, n: Node): Promise<void> {
    const flags = parseFlags(n, ["network", "mount", "security"]);
    if (flags.mount !== undefined) throw invalidParameter("the --mount option requires BuildKit, which this builder is not");
    if (flags.security !== undefined) throw invalidParameter("the --security option requires BuildKit, which this builder is not");
    const cmd = n.json ? [...n.args] : n.args.length ? [...this.shell(st), n.args[0]!] : [];
    const buildArgs = st.args.filterAllowed(st.config.Env);
    let saveCmd = cmd;
    if (buildArgs.length > 0) {
      const shown = buildArgs.filter((kv) => st.args.isReferencedOrNotBuiltin(kv.slice(0, kv.indexOf("="))));
      saveCmd = [`|${shown.length}`, ...shown, ...cmd];
    }
    const probe: ContainerConfigDefaults = { ...st.config, Cmd: saveCmd };
    delete probe.ArgsEscaped;
    if (saveCmd.length > 0) probe.Entrypoint = null;
    if (await this.probeCache(s, st, probe)) return;
    if (!st.imageID) throw invalidParameter("Please provide a source image with `from` prior to run");

    const r = s.req;
    const containerID = await this.runner.create({
      image: st.imageID,
      cmd,
      env: [...(st.config.Env ?? []), ...buildArgs],
      workdir: st.config.WorkingDir || "/",
      user: st.config.User ?? "",
      networkMode: typeof flags.network === "string" ? flags.network : r.networkMode,
      extraHosts: r.extraHosts,
      shmSize: r.shmSize,
      memory: r.memory,
      memorySwap: r.memorySwap,
      cpuShares: r.cpuShares,
      cpuSetCpus: r.cpuSetCpus,
      cpuSetMems: r.cpuSetMems,
      cpuPeriod: r.cpuPeriod,
      cpuQuota: r.cpuQuota,
    });
    s.out.stream(` ---> Running in ${shortID(containerID)}\n`);
    let code: number;
    let ok = false;
    try {
      code = await this.runner.run(containerID, (chunk, stream) => {
        const text = chunk.toString("utf8");
        s.out.stream(stream === 2 ? `\u001b[91m${text}\u001b[0m` : text);
      });
      if (code !== 0) throw new BuildError(`The command '${cmd.join(" ")}' returned a non-zero code: ${code}`, code);
      const chain = this.images.chainIDOf(st.imageID);
      pruneMountpoints(this.snapshots.containerUpperDir(containerID), chain ? this.snapshots.lowerDirs(chain) : []);
      const layer = await this.layerFromUpper(containerID, chain);
      st.imageID = await this.commit(st, probe, layer, containerID);
      ok = true;
    } finally {
      if ((ok && r.remove !== false) || (!ok && r.forceRemove)) {
        if (ok) s.out.stream(`Removing intermediate container ${shortID(containerID)}\n`);
        await this.runner.remove(containerID).catch((err) => this.log.warn("could not remove build container", { id: containerID, err }));
      }
    }
  }

  // ---------------------------------------------------------------- COPY / ADD

  private async copyStep(s: Session, st: State, n: Node, word: (w: string) => string): Promise<void> {
    const isAdd = n.cmd === "add";
    const name = isAdd ? "ADD" : "COPY";
    const flags = parseFlags(n, isAdd ? ["chown", "chmod", "link", "checksum", "keep-git-dir"] : ["from", "chown", "chmod", "link"]);
    if (flags["keep-git-dir"] !== undefined) throw invalidParameter("ADD --keep-git-dir requires BuildKit, which this builder is not");
    if (n.args.length < 2) throw invalidParameter(`${name} requires at least two arguments, but only one was provided. Destination could not be determined.`);
    const args = n.args.map(word);
    const rawDest = args[args.length - 1]!;
    let srcs = args.slice(0, -1);
    const chown = typeof flags.chown === "string" ? word(flags.chown) : "";
    const chmod = typeof flags.chmod === "string" ? parseChmod(word(flags.chmod)) : undefined;
    const wd = st.config.WorkingDir || "/";
    let dest = rawDest.startsWith("/") ? rawDest : path.posix.join("/", wd, rawDest) + (rawDest.endsWith("/") && rawDest !== "/" ? "/" : "");
    if (dest === "//") dest = "/";

    // Where sources come from.
    let srcRoot = s.ctx.root;
    let inContext = true;
    const cleanups: Array<() => Promise<void>> = [];
    try {
      if (typeof flags.from === "string" && !isAdd) {
        const ref = flags.from;
        const imageID = this.fromReference(s, st, ref);
        const id = `build-${randomBytes(12).toString("hex")}`;
        cleanups.push(() => this.snapshots.removeContainer(id));
        srcRoot = await this.snapshots.mountContainer(id, imageID ? this.images.chainIDOf(imageID) : undefined);
        inContext = false;
      }
      // ADD <url>
      const urlSources: CopySource[] = [];
      if (isAdd) {
        const local: string[] = [];
        for (const src of srcs) {
          if (/^https?:\/\//i.test(src)) {
            const dl = path.join(s.tmp, `dl-${randomBytes(8).toString("hex")}`);
            cleanups.push(() => fsp.rm(dl, { recursive: true, force: true }));
            const f = await downloadURL(src, dl);
            urlSources.push({ name: f.name, abs: f.file, isDir: false });
          } else if (/^git@|^[a-z]+:\/\//i.test(src)) {
            throw invalidParameter(`ADD ${src}: only http(s) URLs and local files are supported`);
          } else local.push(src);
        }
        srcs = local;
      }
      const sources = [...(srcs.length > 0 ? await resolveSources(srcRoot, srcs, inContext) : []), ...urlSources];
      if (sources.length > 1 && !dest.endsWith("/")) {
        throw invalidParameter(`When using ${name} with more than one source file, the destination must be a directory and end with a /`);
      }
      const extra = (chown ? `chown=${chown};` : "") + (chmod !== undefined ? `chmod=${chmod.toString(8)};` : "");
      const hash = hashSources(sources, inContext ? s.ctx.digests : undefined, inContext ? s.ctx.root : undefined, extra);
      const comment = `${name} ${hash} in ${rawDest} `;
      const probe = { ...st.config, Cmd: [...this.shell(st), `#(nop) ${comment}`] };
      if (await this.probeCache(s, st, probe)) return;
      const layer = await this.withRootfs(st, async (rootfs) => {
        const identity = chown ? await parseChown(rootfs, chown) : { uid: 0, gid: 0 };
        // URL downloads are never extracted.
        const local = sources.filter((x) => !urlSources.includes(x));
        await copyInto(rootfs, local, dest, { identity, chmod, decompress: isAdd });
        if (urlSources.length) await copyInto(rootfs, urlSources, dest, { identity, chmod, decompress: false });
      });
      st.imageID = await this.commit(st, probe, layer ?? (await this.emptyLayerOf(st)));
    } finally {
      for (const c of cleanups.reverse()) await c().catch(() => {});
    }
  }

  /** COPY always records a layer, even one without changes (Docker does). */
  private async emptyLayerOf(st: State) {
    const { Readable } = await import("node:stream");
    const chain = st.imageID ? this.images.chainIDOf(st.imageID) : undefined;
    const res = await this.images.addLayer(chain, Readable.from([Buffer.alloc(1024)]));
    return { diffID: res.diffID, digest: res.digest, size: res.size, mediaType: res.mediaType };
  }

  /** --from=<stage name|index|image>: the image ID to read from (undefined: scratch). */
  private fromReference(s: Session, st: State, ref: string): string | undefined {
    const lower = ref.toLowerCase();
    for (let i = st.stage.index - 1; i >= 0; i--) {
      if (s.stages[i]!.name === lower) return s.results.get(i);
    }
    if (/^\d+$/.test(ref)) {
      const ix = Number(ref);
      if (ix >= st.stage.index) throw invalidParameter(`invalid from flag value ${ref}: refers to current or future build stage`);
      return s.results.get(ix);
    }
    if (lower === "scratch") return undefined;
    return this.imageFor(s, ref, () => invalidParameter(`invalid from flag value ${ref}: No such image: ${ref} (pulling is not supported by this pierd yet)`));
  }

  /**
   * The ID of an image named by FROM or COPY --from (never a stage or scratch). With --pull,
   * Docker always pulls such an image, even one present (moby's PullOptionForcePull); without
   * a registry client that cannot be done, so the build stops naming the image rather than
   * quietly using a possibly stale local copy.
   */
  private imageFor(s: Session, name: string, missing: () => PierError): string {
    if (s.req.pull) {
      let shown = name;
      try {
        shown = familiarString(parseNormalizedNamed(name));
      } catch {
        /* shown as written */
      }
      throw notImplemented(`failed to pull ${shown} (--pull): this pierd has no registry client yet; build without --pull to use the local image`);
    }
    const rec = this.images.lookup(name);
    if (!rec) throw missing();
    return rec.id;
  }
}

// ---------------------------------------------------------------- helpers

function safeJSONArray(s: string): string[] | undefined {
  try {
    const v = JSON.parse(s.trim());
    if (Array.isArray(v) && v.every((x) => typeof x === "string")) return v;
  } catch {
    /* shell form */
  }
  return undefined;
}

/** `--name=value` / `--name` flags of an instruction; unknown ones are errors. */
function parseFlags(n: Node, allowed: string[]): Record<string, string | true> {
  const out: Record<string, string | true> = {};
  for (const f of n.flags) {
    if (!f.startsWith("--")) throw invalidParameter(`Bad flag: ${f}`);
    const body = f.slice(2);
    const eq = body.indexOf("=");
    const name = eq < 0 ? body : body.slice(0, eq);
    if (!allowed.includes(name)) throw invalidParameter(`Unknown flag: ${name}`);
    if (name in out) throw invalidParameter(`Duplicate flag specified: ${name}`);
    out[name] = eq < 0 ? true : body.slice(eq + 1);
  }
  return out;
}

function noFlags(n: Node): void {
  parseFlags(n, []);
}

/** HEALTHCHECK %q as Go prints the *HealthConfig. */
function formatHealth(h: HealthConfig): string {
  return `&{${goQuoteSlice(h.Test)} ${goQuote(goDuration(h.Interval ?? 0))} ${goQuote(goDuration(h.Timeout ?? 0))} ${goQuote(goDuration(h.StartPeriod ?? 0))} ${goQuote(
    goDuration(h.StartInterval ?? 0),
  )} ${goQuoteRune(h.Retries ?? 0)}}`;
}

/**
 * runc creates mount points for /etc/hosts, /etc/hostname, /etc/resolv.conf (and /proc,
 * /sys, /dev…) when the image lacks them; Docker hides them in an init layer. Drop them
 * from a RUN step's changes when they are only such placeholders.
 */
export function pruneMountpoints(upper: string, lowers: string[]): void {
  const inLower = (rel: string) => lowers.map((l) => fs.lstatSync(path.join(l, rel), { throwIfNoEntry: false })).find((x) => x !== undefined);
  for (const f of ["etc/hosts", "etc/hostname", "etc/resolv.conf", ".dockerenv"]) {
    const st = fs.lstatSync(path.join(upper, f), { throwIfNoEntry: false });
    if (st && st.isFile() && st.size === 0 && !inLower(f)) fs.rmSync(path.join(upper, f), { force: true });
  }
  for (const d of ["dev/pts", "dev/shm", "dev/mqueue", "dev", "proc", "sys", "etc"]) {
    const abs = path.join(upper, d);
    const st = fs.lstatSync(abs, { throwIfNoEntry: false });
    if (!st || !st.isDirectory() || fs.readdirSync(abs).length > 0) continue;
    const low = inLower(d);
    if (low && (!low.isDirectory() || low.mode !== st.mode || low.uid !== st.uid || low.gid !== st.gid)) continue;
    fs.rmdirSync(abs);
  }
}

export { parseWords, nodeFromLine };
