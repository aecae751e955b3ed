import { existsSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const found = new Map<string, string | undefined>();

/**
 * A program binding.gyp built into <project>/build/Release (pier-exec, pier-monitor), or
 * undefined when it was not built. Looked up once per name.
 */
export function builtProgram(name: string): string | undefined {
  if (!found.has(name)) {
    // dist/src/sys/built.js → <project>/build/Release/<name>
    const p = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../build/Release", name);
    found.set(name, existsSync(p) ? p : undefined);
  }
  return found.get(name);
}
