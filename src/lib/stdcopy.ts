/**
 * Docker's multiplexed stream framing: an 8-byte header [stream, 0, 0, 0, size (uint32 BE)]
 * before each chunk. Stream 0 stdin, 1 stdout, 2 stderr, 3 systemerr.
 */
export type StdStream = 0 | 1 | 2 | 3;

export function frame(stream: StdStream, payload: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

/** Incremental demultiplexer: feed chunks, get (stream, payload) pairs. */
export class Demuxer {
  private buf: Buffer = Buffer.alloc(0);
  push(chunk: Buffer, onFrame: (stream: StdStream, payload: Buffer) => void): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while (this.buf.length >= 8) {
      const size = this.buf.readUInt32BE(4);
      if (this.buf.length < 8 + size) break;
      onFrame(this.buf[0] as StdStream, this.buf.subarray(8, 8 + size));
      this.buf = this.buf.subarray(8 + size);
    }
  }
}
