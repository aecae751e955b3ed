import { readFileSync, readlinkSync } from "node:fs";

// Which pierd owns a set of iptables chains, and whether it still lives. Chains outlive a pierd
// killed with SIGKILL; another pierd must be able to tell such leftovers from the chains of a
// pierd that runs. The owner is written into the comment of each jump from a built-in chain
// (firewall.ts), so it lives and dies with the rules themselves (a flush or a reboot takes both).
// A process is named by its pid and its start time (field 22 of /proc/<pid>/stat, in clock ticks
// since boot): a pid reused by another process has another start time. Both only mean something
// in one pid namespace, so that is recorded too.

export interface Owner {
  pid: number;
  /** /proc/<pid>/stat starttime. */
  start: string;
  /** The inode of the pid namespace the pid belongs to. */
  pidns: string;
}

const COMMENT = /--comment "?pierd pid=(\d+) start=(\d+) pidns=(\d+)"?/;

export function ownerComment(o: Owner): string {
  return `pierd pid=${o.pid} start=${o.start} pidns=${o.pidns}`;
}

/** The owner named by a rule's comment (as iptables-save prints it), if it has one. */
export function parseOwner(rule: string): Owner | undefined {
  const m = COMMENT.exec(rule);
  return m ? { pid: Number(m[1]), start: m[2]!, pidns: m[3]! } : undefined;
}

/** A process's start time; undefined when there is no such process or only its zombie. */
function startTime(pid: number | "self"): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) is in parentheses and may hold spaces and ")": fields are
    // counted after the last ")". Field 3 (the state) is the first one after it, field 22 the
    // start time. A zombie (a killed pierd its parent has not reaped yet) holds nothing.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[0] === "Z" ? undefined : fields[19];
  } catch {
    return undefined;
  }
}

function pidNamespace(): string {
  return /\[(\d+)\]/.exec(readlinkSync("/proc/self/ns/pid"))?.[1] ?? "0";
}

/** This process. */
export function selfOwner(): Owner {
  return { pid: process.pid, start: startTime("self") ?? "0", pidns: pidNamespace() };
}

/**
 * true: that process runs; false: it is gone (no such pid, or the pid is another process now);
 * undefined: cannot tell from here (another pid namespace).
 */
export function ownerAlive(o: Owner): boolean | undefined {
  if (o.pidns !== pidNamespace()) return undefined;
  const start = startTime(o.pid);
  return start !== undefined && start === o.start;
}
