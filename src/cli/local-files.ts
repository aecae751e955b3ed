// Files on the client's side (load -i, import FILE, save -o), with the words Go's os package
// gives the docker CLI when they cannot be used: "open x: no such file or directory".

import { createReadStream, openSync, statSync, type ReadStream, type Stats } from "node:fs";
import * as path from "node:path";
import { CliError } from "./cli-context.js";

const ERRNO_TEXT: Record<string, string> = {
  ENOENT: "no such file or directory",
  EACCES: "permission denied",
  EISDIR: "is a directory",
  ENOTDIR: "not a directory",
  EPERM: "operation not permitted",
};

/** Go's text for a system error (syscall.Errno.Error()), from a Node error. */
export function goErrnoText(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  return (code && ERRNO_TEXT[code]) ?? (err as Error).message;
}

/** os.Open: the file as a stream, or "open <path>: <errno>" before anything is sent. */
export function openInputFile(file: string): ReadStream {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch (err) {
    throw new CliError(`open ${file}: ${goErrnoText(err)}`);
  }
  return createReadStream(file, { fd });
}

/**
 * command.ValidateOutputPath, checked before the daemon is asked: the directory must exist, the
 * path must not be a directory or a device; `what` is docker's lead-in ("failed to save image").
 */
export function checkOutputPath(file: string, what: string): void {
  const dir = path.dirname(path.normalize(file));
  if (dir !== "" && dir !== ".") {
    try {
      statSync(dir);
    } catch (err) {
      throw new CliError(`${what}: invalid output path: stat ${dir}: ${goErrnoText(err)}`);
    }
  }
  let st: Stats;
  try {
    st = statSync(file);
  } catch {
    return; // not there yet: it will be created
  }
  if (st.isDirectory()) throw new CliError(`${what}: cannot write to a directory`);
  if (st.isCharacterDevice()) throw new CliError(`${what}: cannot write to a character device file`);
}
