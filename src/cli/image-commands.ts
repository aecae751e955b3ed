// Image commands: images/ls, pull, rm, tag, inspect, history, prune, load, save, import.

import { createWriteStream } from "node:fs";
import { pipeline } from "node:stream/promises";
import { Option, type Command } from "commander";
import { fullName, parseReference, looksLikeID } from "../oci/index.js";
import { CliContext, PROGRAM, StatusError, describeError, isNotFound, promptForConfirmation } from "./cli-context.js";
import { filtersQuery, parseFilters } from "./filters.js";
import { ellipsis, makeContext, renderFormat, rfc3339NanoFixed, truncateID } from "./format.js";
import { imageContexts, imagesFormat, IMAGES_HEADER, type ImageSummary } from "./image-format.js";
import { pullImage } from "./image-pull.js";
import { dockerArgumentCount } from "./argument-counts.js";
import { apiGated } from "./api-gated-flags.js";
import { encodePathName, inspectFetchers, runInspect } from "./inspect.js";
import { jsonMessagePrinter } from "./json-message.js";
import { checkOutputPath, openInputFile } from "./local-files.js";
import { humanDuration, humanSize, humanSizeWithPrecision } from "./units.js";

const collect = (value: string, previous: string[] = []) => [...previous, value];
const ipath = (ref: string, suffix = "") => `/images/${encodePathName(ref)}${suffix}`;

interface ImagesOptions {
  all?: boolean;
  digests?: boolean;
  filter?: string[];
  format?: string;
  trunc?: boolean;
  quiet?: boolean;
}

export function registerImages(parent: Command, cli: CliContext, name: string, aliases: string[] = []): Command {
  return parent
    .command(name)
    .aliases(aliases)
    .description("List images")
    .usage("[OPTIONS] [REPOSITORY[:TAG]]")
    .argument("[repository]")
    .option("-a, --all", "Show all images (default hides intermediate images)")
    .option("--digests", "Show digests")
    .option("-f, --filter <filter>", "Filter output based on conditions provided", collect)
    .option("--format <format>", "Format output using a custom template")
    .option("--no-trunc", "Don't truncate output")
    .option("-q, --quiet", "Only show image IDs")
    .addOption(apiGated(new Option("--tree", "List multi-platform images as a tree (EXPERIMENTAL)"), "1.47"))
    .action(async (repository: string | undefined, opts: ImagesOptions & { tree?: boolean }) => {
      // The tree view needs API 1.47's image manifests; the gate refuses it first (client ≤ 1.45).
      if (opts.tree) throw new StatusError(1, `"--tree" is not implemented by ${PROGRAM}`);
      const filters = parseFilters(opts.filter);
      if (repository) (filters["reference"] ??= {})[repository] = true;
      const images = await cli.client.get<ImageSummary[]>("/images/json", {
        all: opts.all || undefined,
        filters: filtersQuery(filters),
      });
      const format = imagesFormat(opts.format, !!opts.quiet, !!opts.digests);
      const rows = imageContexts(images, { trunc: opts.trunc !== false, digests: !!opts.digests || format.includes(".Digest") });
      cli.out(renderFormat(format, rows, IMAGES_HEADER));
    });
}

export function registerPull(parent: Command, cli: CliContext): Command {
  return parent
    .command("pull")
    .description("Download an image from a registry")
    .usage("[OPTIONS] NAME[:TAG|@DIGEST]")
    .argument("<name>")
    .option("-a, --all-tags", "Download all tagged images in the repository")
    .option("--platform <platform>", "Set platform if server is multi-platform capable")
    .option("-q, --quiet", "Suppress verbose output")
    .action(async (name: string, opts: { allTags?: boolean; platform?: string; quiet?: boolean }) => {
      await pullImage(cli, name, opts);
    });
}

export function registerRmi(parent: Command, cli: CliContext, name: string, aliases: string[] = []): Command {
  return parent
    .command(name)
    .aliases(aliases)
    .description("Remove one or more images")
    .usage("[OPTIONS] IMAGE [IMAGE...]")
    .argument("<images...>")
    .option("-f, --force", "Force removal of the image")
    .option("--no-prune", "Do not delete untagged parents")
    .addOption(apiGated(new Option("--platform <platform>", "Remove only the given platform variant"), "1.50"))
    .action(async (refs: string[], opts: { force?: boolean; prune?: boolean; platform?: string }) => {
      if (opts.platform) throw platformNotImplemented();
      const errors: string[] = [];
      for (const ref of refs) {
        try {
          const items = await cli.client.delete<Array<{ Untagged?: string; Deleted?: string }>>(ipath(ref), {
            force: opts.force || undefined,
            noprune: opts.prune === false || undefined,
          });
          for (const item of items ?? []) {
            if (item.Deleted) cli.out(`Deleted: ${item.Deleted}\n`);
            else if (item.Untagged) cli.out(`Untagged: ${item.Untagged}\n`);
          }
        } catch (err) {
          // -f forgives a missing image: said, but not a failure (docker's rmi).
          if (opts.force && isNotFound(err)) cli.err(`${describeError(err)}\n`);
          else errors.push(describeError(err));
        }
      }
      if (errors.length) throw new StatusError(1, errors.join("\n"));
    });
}

export function registerTag(parent: Command, cli: CliContext): Command {
  return parent
    .command("tag")
    .description("Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE")
    .usage("SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]")
    .argument("<source>")
    .argument("<target>")
    .action(async (source: string, target: string) => {
      if (!looksLikeID(source)) {
        try {
          parseReference(source);
        } catch (err) {
          throw new StatusError(1, `Error parsing reference: "${source}" is not a valid repository/tag: ${(err as Error).message}`);
        }
      }
      let ref;
      try {
        ref = parseReference(target);
      } catch (err) {
        throw new StatusError(1, `Error parsing reference: "${target}" is not a valid repository/tag: ${(err as Error).message}`);
      }
      if (ref.digest) throw new StatusError(1, "refusing to create a tag with a digest reference");
      await cli.client.post(ipath(source, "/tag"), { repo: fullName(ref), tag: ref.tag ?? "latest" });
    });
}

/** A platform flag of an API newer than this client's 1.45: the API gate refuses it before this is reached. */
const platformNotImplemented = () => new StatusError(1, `"--platform" is not implemented by ${PROGRAM}`);

export function registerImageInspect(parent: Command, cli: CliContext): Command {
  return parent
    .command("inspect")
    .description("Display detailed information on one or more images")
    .usage("[OPTIONS] IMAGE [IMAGE...]")
    .argument("<images...>")
    .option("-f, --format <format>", "Format output using a custom template")
    .addOption(apiGated(new Option("--platform <platform>", "Inspect a specific platform of the multi-platform image"), "1.49"))
    .action(async (refs: string[], opts: { format?: string; platform?: string }) => {
      if (opts.platform) throw platformNotImplemented();
      await runInspect(cli, refs, opts.format, inspectFetchers(cli).image);
    });
}

interface HistoryItem {
  Id: string;
  Created: number;
  CreatedBy: string;
  Tags?: string[] | null;
  Size: number;
  Comment: string;
}

export const HISTORY_HEADER: Record<string, string> = {
  ID: "IMAGE",
  CreatedSince: "CREATED",
  CreatedAt: "CREATED AT",
  CreatedBy: "CREATED BY",
  Size: "SIZE",
  Comment: "COMMENT",
};

/** formatter.historyContext rows. */
export function historyContexts(items: readonly HistoryItem[], opts: { trunc: boolean; human: boolean; now?: number }): Record<string, unknown>[] {
  const now = opts.now ?? Date.now();
  return items.map((h) => {
    const created = h.Created * 1000;
    // time.Unix(created, 0).Format(time.RFC3339): local time, whole seconds.
    const rfc3339 = rfc3339NanoFixed(created).replace(/\.\d{9}/, "");
    const createdBy = h.CreatedBy.replace(/\t/g, " ");
    return makeContext("*image.historyContext", {
      ID: opts.trunc ? truncateID(h.Id) : h.Id,
      CreatedSince: opts.human ? `${humanDuration(now - created)} ago` : rfc3339,
      CreatedAt: rfc3339,
      CreatedBy: opts.trunc ? ellipsis(createdBy, 45) : createdBy,
      Size: opts.human ? humanSizeWithPrecision(h.Size, 3) : String(h.Size),
      Comment: h.Comment,
    });
  });
}

export function registerHistory(parent: Command, cli: CliContext): Command {
  return parent
    .command("history")
    .description("Show the history of an image")
    .usage("[OPTIONS] IMAGE")
    .argument("<image>")
    .option("--format <format>", "Format output using a custom template")
    .option("-H, --human", "Print sizes and dates in human readable format (default true)")
    .option("--no-human", "Print raw sizes and dates")
    .option("--no-trunc", "Don't truncate output")
    .option("-q, --quiet", "Only show image IDs")
    .addOption(apiGated(new Option("--platform <platform>", 'Show history for the given platform. Formatted as "os[/arch[/variant]]" (e.g., "linux/amd64")'), "1.48"))
    .action(async (ref: string, opts: { format?: string; human?: boolean; trunc?: boolean; quiet?: boolean; platform?: string }) => {
      if (opts.platform) throw platformNotImplemented();
      const items = await cli.client.get<HistoryItem[]>(ipath(ref, "/history"));
      const created = opts.human === false ? "{{.CreatedAt}}" : "{{.CreatedSince}}";
      let format = opts.format && opts.format !== "table" ? opts.format : `table {{.ID}}\t${created}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}`;
      if (opts.quiet && !opts.format) format = "{{.ID}}";
      const rows = historyContexts(items, { trunc: opts.trunc !== false, human: opts.human !== false });
      cli.out(renderFormat(format, rows, HISTORY_HEADER));
    });
}

export function registerImagePrune(parent: Command, cli: CliContext): Command {
  return parent
    .command("prune")
    .description("Remove unused images")
    .usage("[OPTIONS]")
    .option("-a, --all", "Remove all unused images, not just dangling ones")
    .option("--filter <filter>", 'Provide filter values (e.g. "until=<timestamp>")', collect)
    .option("-f, --force", "Do not prompt for confirmation")
    .action(async (opts: { all?: boolean; filter?: string[]; force?: boolean }) => {
      const { reclaimed, output } = await pruneImages(cli, opts);
      if (output === undefined) return;
      if (output) cli.out(`${output}\n`);
      cli.out(`Total reclaimed space: ${humanSize(reclaimed)}\n`);
    });
}

/** Shared with `system prune`; output undefined when the user said no. */
export async function pruneImages(
  cli: CliContext,
  opts: { all?: boolean; filter?: string[]; force?: boolean },
  confirm = true,
): Promise<{ reclaimed: number; output: string | undefined }> {
  const filters = parseFilters(opts.filter);
  filters["dangling"] = { [opts.all ? "false" : "true"]: true };
  if (confirm && !opts.force) {
    const warning = opts.all
      ? "WARNING! This will remove all images without at least one container associated to them."
      : "WARNING! This will remove all dangling images.";
    if (!(await promptForConfirmation(cli, warning))) return { reclaimed: 0, output: undefined };
  }
  const report = await cli.client.post<{ ImagesDeleted?: Array<{ Untagged?: string; Deleted?: string }> | null; SpaceReclaimed?: number }>(
    "/images/prune",
    { filters: JSON.stringify(filters) },
  );
  let output = "";
  if (report.ImagesDeleted?.length) {
    output = "Deleted Images:\n";
    for (const st of report.ImagesDeleted) output += st.Untagged ? `untagged: ${st.Untagged}\n` : `deleted: ${st.Deleted}\n`;
  }
  return { reclaimed: report.SpaceReclaimed ?? 0, output };
}

export function registerLoad(parent: Command, cli: CliContext): Command {
  return parent
    .command("load")
    .description("Load an image from a tar archive or STDIN")
    .usage("[OPTIONS]")
    .option("-i, --input <file>", "Read from tar archive file, instead of STDIN")
    .option("-q, --quiet", "Suppress the load output")
    .addOption(apiGated(new Option("--platform <platform>", 'Load only the given platform variant. Formatted as "os[/arch[/variant]]" (e.g., "linux/amd64")'), "1.48"))
    .action(async (opts: { input?: string; quiet?: boolean; platform?: string }) => {
      let body: NodeJS.ReadableStream;
      if (opts.input) body = openInputFile(opts.input);
      else {
        if (cli.streams.stdin.isTTY) throw new StatusError(1, "requested load from stdin, but stdin is empty");
        body = cli.streams.stdin;
      }
      const res = await cli.client.request("POST", "/images/load", {
        query: { quiet: opts.quiet || undefined, platform: opts.platform },
        rawBody: body as unknown as import("node:stream").Readable,
      });
      const type = String(res.headers["content-type"] ?? "");
      if (type.includes("json")) {
        const { JsonStreamDecoder } = await import("../client/index.js");
        const decoder = new JsonStreamDecoder();
        const print = jsonMessagePrinter((t) => cli.out(t));
        for await (const chunk of res.body) decoder.push(chunk as Buffer, (v) => print(v as Record<string, unknown>));
      } else {
        await pipeline(res.body, cli.streams.stdout as unknown as NodeJS.WritableStream, { end: false });
      }
    });
}

export function registerSave(parent: Command, cli: CliContext): Command {
  return parent
    .command("save")
    .description("Save one or more images to a tar archive (streamed to STDOUT by default)")
    .usage("[OPTIONS] IMAGE [IMAGE...]")
    .argument("<images...>")
    .option("-o, --output <file>", "Write to a file, instead of STDOUT")
    .addOption(apiGated(new Option("--platform <platform>", 'Save only the given platform variant. Formatted as "os[/arch[/variant]]" (e.g., "linux/amd64")'), "1.48"))
    .action(async (refs: string[], opts: { output?: string; platform?: string }) => {
      if (!opts.output && cli.streams.stdout.isTTY) {
        throw new StatusError(1, "cowardly refusing to save to a terminal. Use the -o flag or redirect");
      }
      if (opts.output) checkOutputPath(opts.output, "failed to save image");
      const body = await cli.client.stream("GET", "/images/get", { query: { names: refs, platform: opts.platform } });
      if (opts.output) await pipeline(body, createWriteStream(opts.output));
      else await pipeline(body, cli.streams.stdout as unknown as NodeJS.WritableStream, { end: false });
    });
}

export function registerImport(parent: Command, cli: CliContext): Command {
  return dockerArgumentCount(parent.command("import"), 1, Infinity)
    .description("Import the contents from a tarball to create a filesystem image")
    .usage("[OPTIONS] file|URL|- [REPOSITORY[:TAG]]")
    .argument("<source>")
    .argument("[repository]")
    .option("-c, --change <instruction>", "Apply Dockerfile instruction to the created image", collect)
    .option("-m, --message <message>", "Set commit message for imported image")
    .option("--platform <platform>", "Set platform if server is multi-platform capable")
    .action(async (source: string, repository: string | undefined, opts: { change?: string[]; message?: string; platform?: string }) => {
      if (repository) {
        try {
          parseReference(repository);
        } catch (err) {
          throw new StatusError(1, (err as Error).message);
        }
      }
      let fromSrc = "-";
      let body: NodeJS.ReadableStream | undefined;
      if (source === "-") body = cli.streams.stdin;
      else if (/^(https?):\/\//.test(source)) fromSrc = source;
      else body = openInputFile(source);
      await cli.client.jsonLines(
        "POST",
        "/images/create",
        {
          query: {
            fromSrc,
            repo: repository ?? "",
            tag: "",
            message: opts.message ?? "",
            platform: opts.platform,
            changes: opts.change,
          },
          rawBody: body as unknown as import("node:stream").Readable | undefined,
        },
        jsonMessagePrinter((t) => cli.out(t)),
      );
    });
}
