import * as os from "node:os";

/** This host's platform in OCI/Go naming (GOARCH): x64 → amd64, arm64 stays. */
export function hostArchitecture(): string {
  switch (os.arch()) {
    case "x64": return "amd64";
    case "ia32": return "386";
    case "arm": return "arm";
    case "arm64": return "arm64";
    case "ppc64": return "ppc64le";
    case "s390x": return "s390x";
    case "riscv64": return "riscv64";
    default: return os.arch();
  }
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** containerd's normalizeArch: the common aliases to Go's names, with arm's default variants. */
function normalizeArch(arch: string, variant: string | undefined): { architecture: string; variant?: string } {
  switch (arch) {
    case "i386": return { architecture: "386" };
    case "x86_64": case "x86-64": case "amd64": return { architecture: "amd64", ...(variant && variant !== "v1" ? { variant } : {}) };
    case "aarch64": case "arm64": return { architecture: "arm64", ...(variant ? { variant: variant === "8" ? "v8" : variant } : {}) };
    case "armhf": return { architecture: "arm", variant: "v7" };
    case "armel": return { architecture: "arm", variant: "v6" };
    case "arm": return { architecture: "arm", variant: !variant || variant === "7" ? "v7" : variant === "5" || variant === "6" || variant === "8" ? `v${variant}` : variant };
    default: return { architecture: arch, ...(variant ? { variant } : {}) };
  }
}

const KNOWN_OS = new Set(["aix", "android", "darwin", "dragonfly", "freebsd", "illumos", "ios", "js", "linux", "netbsd", "openbsd", "plan9", "solaris", "windows"]);

/**
 * containerd's platforms.Parse: "os", "arch" (this host's os), "os/arch" or "os/arch/variant";
 * undefined parts are this host's. A bad specifier is dockerd's 400 words.
 */
export function parsePlatformSpecifier(spec: string): Platform {
  const bad = () => new Error(`"${spec}": cannot parse platform specifier: invalid argument`);
  const parts = spec.toLowerCase().split("/");
  if (parts.length > 3 || parts.some((p) => !/^[a-z0-9_-]+$/.test(p))) throw bad();
  if (parts.length === 1) {
    if (KNOWN_OS.has(parts[0]!)) return { os: parts[0]!, ...normalizeArch(hostArchitecture(), undefined) };
    return { os: "linux", ...normalizeArch(parts[0]!, undefined) };
  }
  return { os: parts[0]!, ...normalizeArch(parts[1]!, parts[2]) };
}

/**
 * Whether an image's platform is what was asked for. A variant counts only for 32-bit arm, as
 * dockerd matches (an amd64 image serves a request for linux/amd64/v2).
 */
export function platformMatches(want: Platform, have: Platform): boolean {
  const h = normalizeArch(have.architecture, have.variant);
  if (want.os !== have.os || want.architecture !== h.architecture) return false;
  return want.architecture !== "arm" || !want.variant || want.variant === h.variant;
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join("/");
}
