import { run } from "./exec.js";

/** The few runc commands the engine runs itself (conmon runs `create`). */
export class Runc {
  constructor(readonly path: string, readonly root: string) {}

  private args(...rest: string[]): string[] {
    return [`--root=${this.root}`, ...rest];
  }

  async start(id: string): Promise<void> {
    await run(this.path, this.args("start", id));
  }

  async kill(id: string, signal: number, all = false): Promise<void> {
    await run(this.path, this.args("kill", ...(all ? ["--all"] : []), id, String(signal)));
  }

  /** Remove runc's state for the container; no error when it is already gone. */
  async delete(id: string): Promise<void> {
    const res = await run(this.path, this.args("delete", "--force", id), { allowFailure: true });
    if (res.code !== 0 && !/does not exist|not exist/.test(res.stderr)) {
      throw new Error(`runc delete ${id}: ${res.stderr.trim()}`);
    }
  }

  async state(id: string): Promise<{ status: string; pid: number } | undefined> {
    const res = await run(this.path, this.args("state", id), { allowFailure: true });
    if (res.code !== 0) return undefined;
    return JSON.parse(res.stdout) as { status: string; pid: number };
  }

  async pause(id: string): Promise<void> {
    await run(this.path, this.args("pause", id));
  }

  async resume(id: string): Promise<void> {
    await run(this.path, this.args("resume", id));
  }
}
