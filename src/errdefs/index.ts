// One error vocabulary for the whole engine. Lower layers throw a PierError with a kind;
// only the api module turns a kind into an HTTP status, and only the cli into an exit code.

export type ErrorKind =
  | "NotFound"
  | "InvalidParameter"
  | "Conflict"
  | "NotModified"
  | "Forbidden"
  | "Unauthorized"
  | "Unavailable"
  | "NotImplemented"
  | "System";

export class PierError extends Error {
  readonly kind: ErrorKind;
  constructor(kind: ErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.kind = kind;
    this.name = `PierError(${kind})`;
  }
}

export const notFound = (msg: string) => new PierError("NotFound", msg);
export const invalidParameter = (msg: string) => new PierError("InvalidParameter", msg);
export const conflict = (msg: string) => new PierError("Conflict", msg);
export const notModified = (msg = "") => new PierError("NotModified", msg);
export const forbidden = (msg: string) => new PierError("Forbidden", msg);
export const unavailable = (msg: string) => new PierError("Unavailable", msg);
export const notImplemented = (msg: string) => new PierError("NotImplemented", msg);
export const systemError = (msg: string, cause?: unknown) => new PierError("System", msg, { cause });

/** The kind of any thrown value; plain errors are System faults. */
export function kindOf(err: unknown): ErrorKind {
  return err instanceof PierError ? err.kind : "System";
}

export function isKind(err: unknown, kind: ErrorKind): boolean {
  return err instanceof PierError && err.kind === kind;
}

/** Errors from node:fs carry a code; this tells "no such file" apart from real faults. */
export function isENOENT(err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === "ENOENT";
}
