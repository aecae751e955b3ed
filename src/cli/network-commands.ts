// `network ls|inspect|create|rm|prune`.

import { Command } from "commander";
import { CliContext, StatusError, describeError, isNotFound, promptForConfirmation } from "./cli-context.js";
import { filtersQuery, parseFilters } from "./filters.js";
import { goTimeStringFromRFC3339, joinLabels, makeContext, renderFormat, truncateID } from "./format.js";
import { inspectFetchers, runInspect } from "./inspect.js";

const collect = (value: string, previous: string[] = []) => [...previous, value];

export interface NetworkSummary {
  Id: string;
  Name: string;
  Driver: string;
  Scope: string;
  Created?: string;
  EnableIPv4?: boolean;
  EnableIPv6?: boolean;
  Internal?: boolean;
  Labels?: Record<string, string> | null;
}

export const NETWORK_HEADER: Record<string, string> = {
  ID: "NETWORK ID",
  Name: "NAME",
  Driver: "DRIVER",
  Scope: "SCOPE",
  IPv4: "IPV4",
  IPv6: "IPV6",
  Internal: "INTERNAL",
  Labels: "LABELS",
  CreatedAt: "CREATED AT",
};

/** formatter.networkContext rows. */
export function networkContexts(networks: readonly NetworkSummary[], trunc: boolean): Record<string, unknown>[] {
  return networks.map((n) =>
    makeContext(
      "*network.networkContext",
      {
        ID: trunc ? truncateID(n.Id) : n.Id,
        Name: n.Name,
        Driver: n.Driver,
        Scope: n.Scope,
        IPv4: String(n.EnableIPv4 ?? false),
        IPv6: String(!!n.EnableIPv6),
        Internal: String(!!n.Internal),
        Labels: joinLabels(n.Labels),
        CreatedAt: n.Created ? goTimeStringFromRFC3339(n.Created) : "",
      },
      { Label: (name: unknown) => (n.Labels ?? {})[String(name)] ?? "" },
    ),
  );
}

export function registerNetwork(program: Command, cli: CliContext): Command {
  const network = program.command("network").description("Manage networks");

  network
    .command("ls")
    .aliases(["list"])
    .description("List networks")
    .usage("[OPTIONS]")
    .option("-f, --filter <filter>", 'Provide filter values (e.g. "driver=bridge")', collect)
    .option("--format <format>", "Format output using a custom template")
    .option("--no-trunc", "Do not truncate the output")
    .option("-q, --quiet", "Only display network IDs")
    .action(async (opts: { filter?: string[]; format?: string; trunc?: boolean; quiet?: boolean }) => {
      const list = await cli.client.get<NetworkSummary[]>("/networks", { filters: filtersQuery(parseFilters(opts.filter)) });
      const sorted = [...list].sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0));
      let format = opts.format && opts.format !== "table" ? opts.format : "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}";
      if (opts.quiet && (!opts.format || opts.format === "table")) format = "{{.ID}}";
      cli.out(renderFormat(format, networkContexts(sorted, opts.trunc !== false), NETWORK_HEADER));
    });

  network
    .command("inspect")
    .description("Display detailed information on one or more networks")
    .usage("[OPTIONS] NETWORK [NETWORK...]")
    .argument("<networks...>")
    .option("-f, --format <format>", "Format output using a custom template")
    .option("-v, --verbose", "Verbose output for diagnostics")
    .action(async (refs: string[], opts: { format?: string }) => {
      await runInspect(cli, refs, opts.format, inspectFetchers(cli).network);
    });

  network
    .command("create")
    .description("Create a network")
    .usage("[OPTIONS] NETWORK")
    .argument("<name>")
    .option("-d, --driver <driver>", "Driver to manage the Network", "bridge")
    .option("--internal", "Restrict external access to the network")
    .option("--ipv6", "Enable or disable IPv6 networking")
    .option("--attachable", "Enable manual container attachment")
    .option("--label <label>", "Set metadata on a network", collect)
    .option("-o, --opt <opt>", "Set driver specific options", collect)
    .option("--subnet <subnet>", "Subnet in CIDR format that represents a network segment", collect)
    .option("--gateway <gateway>", "IPv4 or IPv6 Gateway for the master subnet", collect)
    .option("--ip-range <range>", "Allocate container ip from a sub-range", collect)
    .action(
      async (
        name: string,
        opts: { driver: string; internal?: boolean; ipv6?: boolean; attachable?: boolean; label?: string[]; opt?: string[]; subnet?: string[]; gateway?: string[]; ipRange?: string[] },
      ) => {
        const toMap = (list: string[] | undefined) => {
          const out: Record<string, string> = {};
          for (const e of list ?? []) {
            const eq = e.indexOf("=");
            if (eq < 0) out[e] = "";
            else out[e.slice(0, eq)] = e.slice(eq + 1);
          }
          return out;
        };
        const ipamConfig = (opts.subnet ?? []).map((subnet, i) => {
          const c: Record<string, string> = { Subnet: subnet };
          if (opts.ipRange?.[i]) c["IPRange"] = opts.ipRange[i]!;
          if (opts.gateway?.[i]) c["Gateway"] = opts.gateway[i]!;
          return c;
        });
        // Daemons before API 1.44 accept duplicate names unless asked to check, as Docker's client does.
        const version = await cli.client.apiVersion();
        const checkDuplicate = Number(version.split(".")[1]) < 44 ? true : undefined;
        const res = await cli.client.post<{ Id: string; Warning?: string }>("/networks/create", undefined, {
          Name: name,
          CheckDuplicate: checkDuplicate,
          Driver: opts.driver,
          Scope: "",
          EnableIPv6: opts.ipv6 ? true : undefined,
          IPAM: { Driver: "default", Options: {}, Config: ipamConfig },
          Internal: !!opts.internal,
          Attachable: !!opts.attachable,
          Options: toMap(opts.opt),
          Labels: toMap(opts.label),
        });
        if (res.Warning) cli.err(`${res.Warning}\n`);
        cli.out(`${res.Id}\n`);
      },
    );

  network
    .command("rm")
    .aliases(["remove"])
    .description("Remove one or more networks")
    .usage("NETWORK [NETWORK...]")
    .argument("<networks...>")
    .option("-f, --force", "Do not error if the network does not exist")
    .action(async (refs: string[], opts: { force?: boolean }) => {
      // docker's network rm says each failure as it happens and ends with a bare "exit status 1".
      let failed = false;
      for (const ref of refs) {
        try {
          await cli.client.delete(`/networks/${encodeURIComponent(ref)}`);
          cli.out(`${ref}\n`);
        } catch (err) {
          if (opts.force && isNotFound(err)) continue;
          cli.err(`${describeError(err)}\n`);
          failed = true;
        }
      }
      if (failed) throw new StatusError(1, "exit status 1");
    });

  network
    .command("prune")
    .description("Remove all unused networks")
    .usage("[OPTIONS]")
    .option("--filter <filter>", 'Provide filter values (e.g. "until=<timestamp>")', collect)
    .option("-f, --force", "Do not prompt for confirmation")
    .action(async (opts: { filter?: string[]; force?: boolean }) => {
      const out = await pruneNetworks(cli, opts, true);
      if (out) cli.out(`${out}\n`);
    });

  return network;
}

/** POST /networks/prune; the "Deleted Networks:" text (or "" / undefined when declined). */
export async function pruneNetworks(cli: CliContext, opts: { filter?: string[]; force?: boolean }, confirm: boolean): Promise<string | undefined> {
  if (confirm && !opts.force) {
    if (!(await promptForConfirmation(cli, "WARNING! This will remove all custom networks not used by at least one container."))) return undefined;
  }
  const report = await cli.client.post<{ NetworksDeleted?: string[] | null }>("/networks/prune", {
    filters: filtersQuery(parseFilters(opts.filter)),
  });
  if (!report.NetworksDeleted?.length) return "";
  return `Deleted Networks:\n${report.NetworksDeleted.map((n) => `${n}\n`).join("")}`;
}
