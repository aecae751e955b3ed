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
