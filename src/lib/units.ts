// go-units size parsing (RAMInBytes, FromHumanSize), byte for byte: shared by the CLI's flags
// and the daemon (the local volume driver's `size` option).

const BINARY: Record<string, number> = { k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };
const DECIMAL: Record<string, number> = { k: 1e3, m: 1e6, g: 1e9, t: 1e12, p: 1e15 };

function parseSize(sizeStr: string, unitMap: Record<string, number>): number {
  let sep = -1;
  for (let i = sizeStr.length - 1; i >= 0; i--) {
    if ("01234567890. ".includes(sizeStr[i]!)) {
      sep = i;
      break;
    }
  }
  if (sep === -1) throw new Error(`invalid size: '${sizeStr}'`);
  let num: string;
  let sfx: string;
  if (sizeStr[sep] !== " ") {
    num = sizeStr.slice(0, sep + 1);
    sfx = sizeStr.slice(sep + 1);
  } else {
    num = sizeStr.slice(0, sep);
    sfx = sizeStr.slice(sep + 1);
  }
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(num)) {
    throw new Error(`strconv.ParseFloat: parsing ${JSON.stringify(num)}: invalid syntax`);
  }
  let size = Number(num);
  if (size < 0) throw new Error(`invalid size: '${sizeStr}'`);
  if (sfx.length === 0) return Math.trunc(size);
  const bad = () => new Error(`invalid suffix: '${sfx}'`);
  if (sfx.length > 3) throw bad();
  sfx = sfx.toLowerCase();
  if (sfx[0] === "b") {
    if (sfx.length > 1) throw bad();
    return Math.trunc(size);
  }
  const mul = unitMap[sfx[0]!];
  if (mul === undefined) throw bad();
  size *= mul;
  if (sfx.length === 2 && sfx[1] !== "b") throw bad();
  if (sfx.length === 3 && sfx.slice(1) !== "ib") throw bad();
  return Math.trunc(size);
}

/** go-units RAMInBytes: "64m" → 67108864; binary multiples, case-insensitive, optional "b"/"ib". */
export function ramInBytes(size: string): number {
  return parseSize(size, BINARY);
}

/** go-units FromHumanSize: decimal multiples ("1kB" → 1000). */
export function fromHumanSize(size: string): number {
  return parseSize(size, DECIMAL);
}
