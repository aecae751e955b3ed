// A streaming decoder for a sequence of JSON values, as Go's json.Decoder reads them: objects
// may be separated by newlines, "\r\n", or nothing at all, and may arrive split across chunks.

/** Marks an integer too large for a double, kept as its decimal text (e.g. events' timeNano). */
export const BIG_INT_PREFIX = "\u0000int:";

/** Like JSON.parse, but integers beyond 2^53 become BIG_INT_PREFIX strings instead of losing digits. */
export function parseJsonLossless(text: string): unknown {
  let out = "";
  let last = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') {
      inString = true;
      continue;
    }
    if (c === "-" || (c >= "0" && c <= "9")) {
      let j = i + 1;
      while (j < text.length && /[0-9]/.test(text[j]!)) j++;
      if (j < text.length && /[.eE]/.test(text[j]!)) {
        while (j < text.length && /[0-9.eE+-]/.test(text[j]!)) j++;
        i = j - 1;
        continue;
      }
      const num = text.slice(i, j);
      if (num.replace("-", "").length >= 16 && !Number.isSafeInteger(Number(num))) {
        out += text.slice(last, i) + JSON.stringify(BIG_INT_PREFIX + num);
        last = j;
      }
      i = j - 1;
    }
  }
  return JSON.parse(out + text.slice(last));
}

export class JsonStreamDecoder {
  /** With lossless, big integers are kept as text (see parseJsonLossless). */
  constructor(private readonly lossless = false) {}

  private buf = "";
  private depth = 0;
  private inString = false;
  private escaped = false;
  private start = -1;
  private scanned = 0;
  private readonly decoder = new TextDecoder("utf-8");

  /** Feed bytes; calls onValue for each complete top-level object or array. */
  push(chunk: Buffer | string, onValue: (value: unknown) => void): void {
    this.buf += typeof chunk === "string" ? chunk : this.decoder.decode(chunk, { stream: true });
    let i = this.scanned;
    for (; i < this.buf.length; i++) {
      const c = this.buf[i];
      if (this.start < 0) {
        if (c === "{" || c === "[") {
          this.start = i;
          this.depth = 1;
        }
        continue;
      }
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === "\\") this.escaped = true;
        else if (c === '"') this.inString = false;
        continue;
      }
      if (c === '"') this.inString = true;
      else if (c === "{" || c === "[") this.depth++;
      else if (c === "}" || c === "]") {
        this.depth--;
        if (this.depth === 0) {
          const text = this.buf.slice(this.start, i + 1);
          this.start = -1;
          onValue(this.lossless ? parseJsonLossless(text) : JSON.parse(text));
        }
      }
    }
    // Drop what has been consumed.
    const keepFrom = this.start >= 0 ? this.start : this.buf.length;
    this.buf = this.buf.slice(keepFrom);
    if (this.start >= 0) this.start = 0;
    this.scanned = i - keepFrom;
  }
}
