// A container spec as pierd builds it for a plain container, for the unit tests of the code
// that turns such a spec into something else (the start shim's config, the builtin runtime's plan).
import { buildSpec, type SpecOptions } from "../runtime/index.js";
import type { Spec } from "../oci/index.js";

export function fixtureSpec(over: Partial<SpecOptions> = {}): Spec {
  return buildSpec({
    id: "c1",
    rootfs: "/var/lib/pier/rootfs/c1",
    args: ["/bin/sh", "-c", "true"],
    env: ["PATH=/usr/bin:/bin"],
    cwd: "/work",
    user: { uid: 1000, gid: 1000, additionalGids: [1000, 10] },
    tty: false,
    hostname: "c1host",
    hostConfig: {},
    mounts: [],
    network: { mode: "new" },
    cgroupsPath: "/pier/c1",
    ...over,
  });
}
