// `images` rows as the docker CLI's formatter.ImageContext shows them.

import { familiarName, parseReference } from "../oci/index.js";
import { goTimeString, joinLabels, makeContext, truncateID } from "./format.js";
import { humanDuration, humanSize, humanSizeWithPrecision } from "./units.js";

export interface ImageSummary {
  Id: string;
  ParentId?: string;
  RepoTags?: string[] | null;
  RepoDigests?: string[] | null;
  Created: number;
  Size: number;
  SharedSize?: number;
  VirtualSize?: number;
  Labels?: Record<string, string> | null;
  Containers?: number;
}

export const DEFAULT_IMAGES_FORMAT = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";
export const DEFAULT_IMAGES_DIGEST_FORMAT = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";

export const IMAGES_HEADER: Record<string, string> = {
  ID: "IMAGE ID",
  Repository: "REPOSITORY",
  Tag: "TAG",
  Digest: "DIGEST",
  CreatedSince: "CREATED",
  CreatedAt: "CREATED AT",
  Size: "SIZE",
  Containers: "CONTAINERS",
  VirtualSize: "VIRTUAL SIZE",
  SharedSize: "SHARED SIZE",
  UniqueSize: "UNIQUE SIZE",
};

export function imagesFormat(format: string | undefined, quiet: boolean, digests: boolean): string {
  if (format && format !== "table") return format;
  if (quiet) return "{{.ID}}";
  return digests ? DEFAULT_IMAGES_DIGEST_FORMAT : DEFAULT_IMAGES_FORMAT;
}

function isDangling(img: ImageSummary): boolean {
  const tags = img.RepoTags ?? [];
  const digests = img.RepoDigests ?? [];
  if (tags.length === 0 && digests.length === 0) return true;
  return tags.length === 1 && tags[0] === "<none>:<none>" && digests.length === 1 && digests[0] === "<none>@<none>";
}

interface Row {
  repo: string;
  tag: string;
  digest: string;
}

/** The rows one image gives: one per repository tag (and digest with --digests). */
export function imageRows(img: ImageSummary, showDigests: boolean): Row[] {
  if (isDangling(img)) return [{ repo: "<none>", tag: "<none>", digest: "<none>" }];
  const repoTags = new Map<string, string[]>();
  const repoDigests = new Map<string, string[]>();
  for (const s of img.RepoTags ?? []) {
    try {
      const ref = parseReference(s);
      if (!ref.tag) continue;
      const name = familiarName(ref);
      repoTags.set(name, [...(repoTags.get(name) ?? []), ref.tag]);
    } catch {
      // skip unparseable references, as Docker does
    }
  }
  for (const s of img.RepoDigests ?? []) {
    try {
      const ref = parseReference(s);
      if (!ref.digest) continue;
      const name = familiarName(ref);
      repoDigests.set(name, [...(repoDigests.get(name) ?? []), ref.digest]);
    } catch {
      // skip
    }
  }
  const rows: Row[] = [];
  for (const [repo, tags] of repoTags) {
    let digests = repoDigests.get(repo) ?? [];
    repoDigests.delete(repo);
    if (!showDigests) digests = [];
    for (const tag of tags) {
      if (digests.length === 0) {
        rows.push({ repo, tag, digest: "<none>" });
        continue;
      }
      for (const digest of digests) rows.push({ repo, tag, digest });
    }
  }
  for (const [repo, digests] of repoDigests) {
    if (showDigests) for (const digest of digests) rows.push({ repo, tag: "<none>", digest });
    else rows.push({ repo, tag: "<none>", digest: "<none>" });
  }
  return rows;
}

export interface ImageContextOptions {
  trunc: boolean;
  digests: boolean;
  now?: number;
  /** df -v's image rows carry no digest at all (an empty Digest, not "<none>"). */
  noDigest?: boolean;
}

/** Every row of every image, as template contexts. */
export function imageContexts(images: readonly ImageSummary[], opts: ImageContextOptions): Record<string, unknown>[] {
  const now = opts.now ?? Date.now();
  const out: Record<string, unknown>[] = [];
  for (const img of images) {
    for (const row of imageRows(img, opts.digests)) {
      const created = img.Created * 1000;
      const fields: Record<string, string> = {
        Containers: img.Containers === undefined || img.Containers === -1 ? "N/A" : String(img.Containers),
        CreatedAt: goTimeString(created),
        CreatedSince: `${humanDuration(now - created)} ago`,
        Digest: opts.noDigest ? "" : row.digest,
        ID: opts.trunc ? truncateID(img.Id) : img.Id,
        Repository: row.repo,
        SharedSize: img.SharedSize === undefined || img.SharedSize === -1 ? "N/A" : humanSize(img.SharedSize),
        Size: humanSizeWithPrecision(img.Size, 3),
        Tag: row.tag,
        UniqueSize:
          img.SharedSize === undefined || img.SharedSize === -1 ? "N/A" : humanSize(img.Size - img.SharedSize),
        VirtualSize: humanSize(img.VirtualSize ?? img.Size),
      };
      out.push(
        makeContext("*formatter.imageContext", fields, {
          Label: (name: unknown) => (img.Labels ?? {})[String(name)] ?? "",
          Labels: () => joinLabels(img.Labels),
        }),
      );
    }
  }
  return out;
}
