// A streaming decoder for a sequence of JSON values, as Go's json.Decoder reads them: objects
// may be separated by newlines, "\r\n", or nothing at all, and may arrive split across chunks.

export class JsonStreamDecoder {
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
          onValue(JSON.parse(text));
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
