import { PierError, type ErrorKind } from "../errdefs/index.js";

/** The kind of error a daemon's HTTP status stands for (the inverse of the api module's table). */
export function kindForStatus(status: number): ErrorKind {
  switch (status) {
    case 304:
      return "NotModified";
    case 400:
      return "InvalidParameter";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 409:
      return "Conflict";
    case 501:
      return "NotImplemented";
    case 503:
      return "Unavailable";
    default:
      return "System";
  }
}

/** An error answer from the daemon: its status and its `message`. */
export class ApiError extends PierError {
  readonly status: number;
  constructor(status: number, message: string) {
    super(kindForStatus(status), message);
    this.status = status;
    this.name = "ApiError";
  }
}

/** An error that a stream reported after its 200 (`{"error": "...", "errorDetail": {...}}`). */
export class StreamError extends PierError {
  constructor(message: string) {
    super("System", message);
    this.name = "StreamError";
  }
}

/** The daemon could not be reached at all. */
export class ConnectionError extends PierError {
  readonly host: string;
  constructor(host: string, cause?: unknown) {
    super("Unavailable", `Cannot connect to the Docker daemon at ${host}. Is the docker daemon running?`, { cause });
    this.host = host;
    this.name = "ConnectionError";
  }
}

const CONNECT_CODES = new Set(["ECONNREFUSED", "ENOENT", "EACCES", "ECONNRESET", "EPIPE", "UND_ERR_SOCKET", "UND_ERR_CONNECT_TIMEOUT", "EHOSTUNREACH", "ENOTFOUND"]);

/** True when err says the connection to the daemon could not be made. */
export function isConnectFailure(err: unknown): boolean {
  const code = (err as { code?: string })?.code;
  return typeof code === "string" && CONNECT_CODES.has(code);
}

/** Turn an error body into the daemon's message, as the Docker client does. */
export function messageFromBody(status: number, body: string, route: string): string {
  const text = body.trim();
  if (text === "") {
    return `request returned ${statusText(status)} for API route and version ${route}, check if the server supports the requested API version`;
  }
  try {
    const parsed = JSON.parse(text) as { message?: unknown };
    if (parsed && typeof parsed.message === "string") return parsed.message;
  } catch {
    // not JSON: the body is the message
  }
  return text;
}

function statusText(status: number): string {
  const texts: Record<number, string> = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
  };
  return texts[status] ?? String(status);
}
