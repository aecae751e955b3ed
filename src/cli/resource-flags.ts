// The block-IO, GPU, annotation and storage flags of `run`/`create`, parsed as the docker CLI's
// opts package parses them (ValidateWeightDevice, ValidateThrottleBpsDevice, GpuOpts …).

import { FlagError, keyValueMap, splitCSV } from "./flag-parsers.js";
import { ramInBytes } from "./units.js";

/** pflag's words for a value its flag type refused. */
const invalid = (value: string, flag: string, why: string) => new FlagError(`invalid argument "${value}" for "${flag}" flag: ${why}`);

export interface WeightDevice {
  Path: string;
  Weight: number;
}

export interface ThrottleDevice {
  Path: string;
  Rate: number;
}

/** --blkio-weight-device /dev/sda:200 (weight 10 to 1000). */
export function parseWeightDevice(value: string, flag = "--blkio-weight-device"): WeightDevice {
  const [path, weight, ...rest] = value.split(":");
  if (rest.length > 0 || weight === undefined || !path!.startsWith("/dev/")) throw invalid(value, flag, `bad format: ${value}`);
  const w = /^\d+$/.test(weight) ? Number(weight) : NaN;
  if (!(w >= 10 && w <= 1000)) throw invalid(value, flag, `invalid weight for device: ${value}`);
  return { Path: path!, Weight: w };
}

/** --device-read-bps /dev/sda:1mb (a size) or --device-read-iops /dev/sda:100 (a count). */
export function parseThrottleDevice(value: string, kind: "bps" | "iops", flag: string): ThrottleDevice {
  const [path, rate, ...rest] = value.split(":");
  if (rest.length > 0 || rate === undefined || !path!.startsWith("/dev/")) throw invalid(value, flag, `bad format: ${value}`);
  let n: number;
  if (kind === "bps") {
    try {
      n = ramInBytes(rate);
    } catch {
      n = -1;
    }
    if (!(n >= 0)) {
      throw invalid(value, flag, `invalid rate for device: ${value}. The correct format is <device-path>:<number>[<unit>]. Number must be a positive integer. Unit is optional and can be kb, mb, or gb`);
    }
  } else {
    n = /^\d+$/.test(rate) ? Number(rate) : -1;
    if (n < 0) throw invalid(value, flag, `invalid rate for device: ${value}. The correct format is <device-path>:<number>. Number must be a positive integer`);
  }
  return { Path: path!, Rate: n };
}

/** opts.MapOpts for --annotation: "k=v", a bare "k" is an empty value. */
export function parseKeyValues(values: readonly string[] | undefined): Record<string, string> | undefined {
  return values?.length ? keyValueMap(values) : undefined;
}

/** parseStorageOpts: every --storage-opt must be "key=value". */
export function parseStorageOpts(values: readonly string[] | undefined): Record<string, string> | undefined {
  if (!values?.length) return undefined;
  for (const v of values) if (!v.includes("=")) throw new FlagError("invalid storage option");
  return parseKeyValues(values);
}

/**
 * opts.GpuOpts: CSV fields "all", a count, count=, device= (quote it to list several ids:
 * '"device=0,1"'), driver=, capabilities=, options=; the request always asks for "gpu".
 */
export function parseGpus(value: string): Record<string, unknown> {
  const req = { Driver: "", Count: 0, DeviceIDs: null as string[] | null, Capabilities: [["gpu"]] as string[][], Options: {} as Record<string, string> };
  for (const field of splitCSV(value)) {
    const eq = field.indexOf("=");
    const key = eq < 0 ? "count" : field.slice(0, eq);
    const val = eq < 0 ? field : field.slice(eq + 1);
    switch (key) {
      case "driver":
        req.Driver = val;
        break;
      case "count":
        if (val === "all") req.Count = -1;
        else if (/^\d+$/.test(val)) req.Count = Number(val);
        else throw invalid(value, "--gpus", `invalid count (${val}): value must be either "all" or an integer: invalid syntax`);
        break;
      case "device":
        req.DeviceIDs = val.split(",");
        break;
      case "capabilities":
        req.Capabilities = [[...val.split(" "), "gpu"]];
        break;
      case "options":
        for (const o of val.split(" ")) {
          const e = o.indexOf("=");
          req.Options[e < 0 ? o : o.slice(0, e)] = e < 0 ? "" : o.slice(e + 1);
        }
        break;
      default:
        throw invalid(value, "--gpus", `unexpected key '${key}' in '${field}'`);
    }
  }
  return req;
}
