import { invalidParameter } from "../errdefs/index.js";

// Docker image references: [domain/]path[:tag][@digest], with Docker Hub's defaults.

export const DEFAULT_DOMAIN = "docker.io";
const LEGACY_DOMAIN = "index.docker.io";
const OFFICIAL_PREFIX = "library/";

const NAME_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const DOMAIN = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?$|^\[[a-fA-F0-9:]+\](?::[0-9]+)?$/;

export interface Reference {
  /** Registry host, e.g. "docker.io" or "localhost:5000". */
  domain: string;
  /** Repository path inside the registry, e.g. "library/busybox". */
  path: string;
  tag?: string;
  digest?: string;
}

/** Parse and normalize; a reference without tag or digest is not given ":latest" here. */
export function parseReference(s: string): Reference {
  if (s === "" || s.length > 255 + 128 + 80) throw invalidParameter(`invalid reference format`);
  let rest = s;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw invalidParameter(`invalid reference format`);
  }
  let tag: string | undefined;
  const lastColon = rest.lastIndexOf(":");
  if (lastColon > rest.lastIndexOf("/")) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!TAG.test(tag)) throw invalidParameter(`invalid reference format`);
  }
  let domain = DEFAULT_DOMAIN;
  let path = rest;
  const slash = rest.indexOf("/");
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes(".") || first.includes(":") || first === "localhost" || first !== first.toLowerCase()) {
      domain = first === LEGACY_DOMAIN ? DEFAULT_DOMAIN : first;
      path = rest.slice(slash + 1);
      if (!DOMAIN.test(first)) throw invalidParameter(`invalid reference format`);
    }
  }
  // Named as distribution's ParseNormalizedNamed names it: with "library/" on Docker Hub.
  const remote = domain === DEFAULT_DOMAIN && !path.includes("/") ? OFFICIAL_PREFIX + path : path;
  if (remote !== remote.toLowerCase()) {
    throw invalidParameter(`invalid reference format: repository name (${remote}) must be lowercase`);
  }
  if (path === "" || !path.split("/").every((c) => NAME_COMPONENT.test(c))) throw invalidParameter(`invalid reference format`);
  if (domain === DEFAULT_DOMAIN && !path.includes("/")) path = OFFICIAL_PREFIX + path;
  return { domain, path, tag, digest };
}

/** With ":latest" added when neither tag nor digest is given. */
export function parseNormalizedNamed(s: string): Reference {
  const r = parseReference(s);
  if (!r.tag && !r.digest) r.tag = "latest";
  return r;
}

/** Full name: "docker.io/library/busybox". */
export const fullName = (r: Reference) => `${r.domain}/${r.path}`;

/** Familiar name as Docker shows it: "busybox", "localhost:5000/a/b", "user/repo". */
export function familiarName(r: Reference): string {
  if (r.domain === DEFAULT_DOMAIN) {
    return r.path.startsWith(OFFICIAL_PREFIX) ? r.path.slice(OFFICIAL_PREFIX.length) : r.path;
  }
  return `${r.domain}/${r.path}`;
}

/** "busybox:latest", "localhost:5000/a:1", "busybox@sha256:…" */
export function familiarString(r: Reference): string {
  let s = familiarName(r);
  if (r.tag) s += `:${r.tag}`;
  if (r.digest) s += `@${r.digest}`;
  return s;
}

/** True when s is a (possibly short) hex ID rather than a name. */
export function looksLikeID(s: string): boolean {
  return /^(sha256:)?[a-f0-9]{1,64}$/.test(s);
}
