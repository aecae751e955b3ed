import * as net from "node:net";

/**
 * Whether a daemon serves the unix socket at `sock`: it answers a ping. A connection that is
 * accepted is not enough: a copy of a killed daemon's listening socket, held for a moment by a
 * child it was starting, takes connections into its backlog that nobody will ever read, and
 * drops them when that child lets go of it. Those end without a byte (reset or EOF): not served.
 * A socket that takes the connection and neither answers nor drops it within `timeoutMs` is
 * counted as served (a daemon stopped or too busy to answer is still there).
 */
export function socketServed(sock: string, timeoutMs = 5000): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(sock);
    let settled = false;
    const settle = (served: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      c.destroy();
      resolve(served);
    };
    const timer = setTimeout(() => settle(true), timeoutMs);
    c.once("connect", () => c.write("GET /_ping HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"));
    c.once("data", () => settle(true));
    c.once("end", () => settle(false));
    c.once("close", () => settle(false));
    c.once("error", () => settle(false));
  });
}
