// Pulling through POST /images/create, as `docker pull` and `docker run`'s implicit pull do.

import { familiarName, fullName, parseNormalizedNamed, parseReference, familiarString } from "../oci/index.js";
import type { CliContext } from "./cli-context.js";
import { jsonMessagePrinter } from "./json-message.js";

/** base64 of "{}": no registry credentials. */
const EMPTY_AUTH = "e30=";

/** The tag query value for a reference: its digest, its tag, or "latest". */
function apiTag(ref: { tag?: string; digest?: string }): string {
  return ref.digest ?? ref.tag ?? "latest";
}

/** The name `run` prints in "Unable to find image 'busybox:latest' locally". */
export function familiarTagged(image: string): string {
  try {
    const ref = parseReference(image);
    if (!ref.tag && !ref.digest) ref.tag = "latest";
    return familiarString(ref);
  } catch {
    return image;
  }
}

/** run/create's pull: fromImage is the full name, progress goes to stderr (none with -q). */
export async function pullForCreate(cli: CliContext, image: string, platform: string | undefined, quiet: boolean): Promise<void> {
  const ref = parseNormalizedNamed(image);
  const write = quiet ? () => undefined : (t: string) => cli.err(t);
  await cli.client.jsonLines(
    "POST",
    "/images/create",
    { query: { fromImage: fullName(ref), tag: apiTag(ref), platform: platform?.toLowerCase() }, headers: { "X-Registry-Auth": EMPTY_AUTH } },
    jsonMessagePrinter(write),
  );
}

/** `pier pull`: fromImage is the familiar name; prints progress, then the full reference. */
export async function pullImage(
  cli: CliContext,
  image: string,
  opts: { platform?: string; quiet?: boolean; allTags?: boolean },
): Promise<void> {
  const ref = parseReference(image);
  if (!opts.allTags && !ref.tag && !ref.digest) {
    if (!opts.quiet) cli.out("Using default tag: latest\n");
    ref.tag = "latest";
  }
  const write = opts.quiet ? () => undefined : (t: string) => cli.out(t);
  await cli.client.jsonLines(
    "POST",
    "/images/create",
    {
      query: { fromImage: familiarName(ref), tag: opts.allTags ? undefined : apiTag(ref), platform: opts.platform?.toLowerCase() },
      headers: { "X-Registry-Auth": EMPTY_AUTH },
    },
    jsonMessagePrinter(write),
  );
  const shown = `${fullName(ref)}${ref.tag && !opts.allTags ? `:${ref.tag}` : ""}${ref.digest ? `@${ref.digest}` : ""}`;
  cli.out(`${shown}\n`);
}
