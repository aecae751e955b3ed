// Go's text/tabwriter with the settings the docker CLI uses for tables
// (minwidth 10, tabwidth 1, padding 3, padchar ' ', no flags): tab-terminated cells are aligned
// per column block; the last cell of each line is not part of any column.

export interface TabwriterOptions {
  minwidth: number;
  padding: number;
  padchar: string;
}

/** formatter.Context tables: tabwriter.NewWriter(out, 10, 1, 3, ' ', 0). */
export const DOCKER_TABLE: TabwriterOptions = { minwidth: 10, padding: 3, padchar: " " };

const runeWidth = (s: string) => [...s].length;

/** Align text whose cells are separated by tabs, exactly as Go's tabwriter would. */
export function tabwrite(text: string, opts: TabwriterOptions = DOCKER_TABLE): string {
  const lines = text.split("\n").map((l) => l.split("\t"));
  const widths: number[] = [];
  let out = "";

  const writeLines = (line0: number, line1: number) => {
    for (let i = line0; i < line1; i++) {
      const cells = lines[i]!;
      cells.forEach((cell, j) => {
        out += cell;
        if (j < widths.length) out += opts.padchar.repeat(Math.max(0, widths[j]! - runeWidth(cell)));
      });
      if (i + 1 < lines.length) out += "\n";
    }
  };

  // Go's Writer.format: find each block of consecutive lines that have a cell in this column,
  // size the column by its widest cell, then format the columns to its right within the block.
  const format = (line0: number, line1: number): void => {
    const column = widths.length;
    let cur = line0;
    while (cur < line1) {
      if (column >= lines[cur]!.length - 1) {
        cur++;
        continue;
      }
      writeLines(line0, cur);
      line0 = cur;
      let width = opts.minwidth;
      for (; cur < line1; cur++) {
        const cells = lines[cur]!;
        if (column >= cells.length - 1) break;
        const w = runeWidth(cells[column]!) + opts.padding;
        if (w > width) width = w;
      }
      widths.push(width);
      format(line0, cur);
      widths.pop();
      line0 = cur;
    }
    writeLines(line0, line1);
  };

  format(0, lines.length);
  return out;
}
