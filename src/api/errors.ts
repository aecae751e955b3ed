import { kindOf, type ErrorKind } from "../errdefs/index.js";

/** The one place an error kind becomes an HTTP status. */
export const STATUS_BY_KIND: Record<ErrorKind, number> = {
  InvalidParameter: 400,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  Conflict: 409,
  NotModified: 304,
  System: 500,
  NotImplemented: 501,
  Unavailable: 503,
};

export function statusOf(err: unknown): number {
  return STATUS_BY_KIND[kindOf(err)];
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
