// What every command needs: the API client (made on first use, from -H / PIER_HOST / DOCKER_HOST),
// the output streams, and the errors that carry an exit code.

import { ApiClient, ApiError, ConnectionError, resolveHost } from "../client/index.js";
import { isKind } from "../errdefs/index.js";

export const PROGRAM = "pier";

/** An error with the exit code to leave with; an empty message prints nothing. */
export class StatusError extends Error {
  readonly code: number;
  constructor(code: number, message = "") {
    super(message);
    this.code = code;
    this.name = "StatusError";
  }
}

/** A plain user-facing error (printed as is, exit 1). */
export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CliError";
  }
}

export interface CliStreams {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number; rows?: number };
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
}

export class CliContext {
  private apiClient: ApiClient | undefined;
  hostFlag: string | undefined;
  readonly streams: CliStreams;

  constructor(streams?: Partial<CliStreams>, client?: ApiClient) {
    this.streams = {
      stdout: streams?.stdout ?? process.stdout,
      stderr: streams?.stderr ?? process.stderr,
      stdin: streams?.stdin ?? process.stdin,
    };
    this.apiClient = client;
  }

  get client(): ApiClient {
    if (!this.apiClient) {
      const host = resolveHost(this.hostFlag);
      try {
        this.apiClient = new ApiClient(host, { apiVersion: process.env["DOCKER_API_VERSION"] || undefined });
      } catch (err) {
        // The docker CLI's words for an address it cannot use (-H, PIER_HOST, DOCKER_HOST).
        throw new CliError(`Failed to initialize: unable to resolve docker endpoint: invalid bind address format: ${host || (err as Error).message}`);
      }
    }
    return this.apiClient;
  }

  /** True when a client was made (so there is something to close). */
  get hasClient(): boolean {
    return this.apiClient !== undefined;
  }

  out(text: string): void {
    this.streams.stdout.write(text);
  }

  err(text: string): void {
    this.streams.stderr.write(text);
  }
}

/** The daemon said the object does not exist (404), which -f on rm, rmi and network rm forgives. */
export function isNotFound(err: unknown): boolean {
  return err instanceof ApiError && isKind(err, "NotFound");
}

/** How Docker words an error on stderr: daemon errors get "Error response from daemon: ". */
export function describeError(err: unknown): string {
  if (err instanceof ApiError) return `Error response from daemon: ${err.message}`;
  if (err instanceof ConnectionError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}

/** command.PromptForConfirmation: "<message> Are you sure you want to continue? [y/N] ", true on y/Y. */
export async function promptForConfirmation(cli: CliContext, message: string): Promise<boolean> {
  cli.out(`${message}\nAre you sure you want to continue? [y/N] `);
  const line = await readLine(cli.streams.stdin);
  return /^\s*[yY]\s*$/.test(line ?? "");
}

function readLine(input: NodeJS.ReadableStream): Promise<string | undefined> {
  return new Promise((resolve) => {
    let buf = "";
    const onData = (chunk: Buffer | string) => {
      buf += chunk.toString();
      const nl = buf.indexOf("\n");
      if (nl >= 0) finish(buf.slice(0, nl));
    };
    const onEnd = () => finish(buf === "" ? undefined : buf);
    const finish = (v: string | undefined) => {
      input.removeListener("data", onData);
      input.removeListener("end", onEnd);
      input.pause();
      resolve(v);
    };
    input.on("data", onData);
    input.on("end", onEnd);
    input.resume();
  });
}
