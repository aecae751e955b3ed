// Which daemon the client talks to: -H/--host, then PIER_HOST, then DOCKER_HOST, then the default.

export const DEFAULT_HOST = "unix:///run/pier/pier.sock";

export type Endpoint =
  | { kind: "unix"; socketPath: string; url: string }
  | { kind: "tcp"; hostname: string; port: number; url: string };

/** The host URL in force, by the precedence rule above. */
export function resolveHost(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (flag) return flag;
  if (env["PIER_HOST"]) return env["PIER_HOST"];
  if (env["DOCKER_HOST"]) return env["DOCKER_HOST"];
  return DEFAULT_HOST;
}

/** Parse "unix:///path", "tcp://host:port", "host:port" or a bare socket path. */
export function parseHost(host: string): Endpoint {
  const h = host.trim();
  if (h.startsWith("unix://")) {
    const socketPath = h.slice("unix://".length);
    if (!socketPath) throw new Error(`invalid host: ${host}: empty socket path`);
    return { kind: "unix", socketPath, url: h };
  }
  if (h.startsWith("/")) return { kind: "unix", socketPath: h, url: `unix://${h}` };
  let rest = h;
  if (rest.startsWith("tcp://")) rest = rest.slice("tcp://".length);
  else if (rest.startsWith("http://")) rest = rest.slice("http://".length);
  else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(rest)) throw new Error(`unsupported host protocol: ${host}`);
  rest = rest.replace(/\/+$/, "");
  let hostname = rest;
  let port = 2375;
  const m = /^(\[[^\]]+\]|[^:]*)(?::(\d+))?$/.exec(rest);
  if (!m) throw new Error(`invalid host: ${host}`);
  hostname = m[1] || "127.0.0.1";
  if (m[2]) port = Number(m[2]);
  if (hostname.startsWith("[")) hostname = hostname.slice(1, -1);
  return { kind: "tcp", hostname, port, url: `tcp://${m[1] || "127.0.0.1"}:${port}` };
}
