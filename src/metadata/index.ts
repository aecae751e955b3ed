import { promises as fsp } from "node:fs";
import * as path from "node:path";
import { writeFileAtomic } from "../lib/index.js";

/**
 * Durable records, one JSON file per object, written atomically. The whole set is loaded
 * into memory at start (it is small: one record per container/image/volume), so reads never
 * touch the disk; every change is written through before the call returns.
 */
export class RecordStore<T> {
  private readonly records = new Map<string, T>();
  constructor(readonly dir: string) {}

  async load(): Promise<Map<string, T>> {
    await fsp.mkdir(this.dir, { recursive: true, mode: 0o700 });
    for (const name of await fsp.readdir(this.dir)) {
      // A write cut short (a crash, a full disk) leaves its temporary file: never a record.
      if (name.startsWith(".") && name.endsWith(".tmp")) {
        await fsp.rm(path.join(this.dir, name), { force: true });
        continue;
      }
      if (!name.endsWith(".json") || name.startsWith(".")) continue;
      const id = name.slice(0, -5);
      try {
        this.records.set(id, JSON.parse(await fsp.readFile(path.join(this.dir, name), "utf8")) as T);
      } catch {
        // A record that cannot be parsed was never completely written (atomic writes make
        // that impossible) or was damaged by hand; skip it rather than refuse to start.
        continue;
      }
    }
    return this.records;
  }

  get(id: string): T | undefined {
    return this.records.get(id);
  }

  values(): IterableIterator<T> {
    return this.records.values();
  }

  entries(): IterableIterator<[string, T]> {
    return this.records.entries();
  }

  get size(): number {
    return this.records.size;
  }

  /**
   * `durable: false` skips the fsyncs (still written whole or not at all, as seen by readers):
   * for a record its owner can rebuild exactly when a crash loses it (a cut-short write is
   * skipped by load()).
   */
  async put(id: string, record: T, opts: { durable?: boolean } = {}): Promise<void> {
    await writeFileAtomic(path.join(this.dir, `${id}.json`), JSON.stringify(record), 0o600, opts);
    this.records.set(id, record);
  }

  /** Change a record in memory only; the next put() or delete() makes the change durable. */
  set(id: string, record: T): void {
    this.records.set(id, record);
  }

  /**
   * Drop the record from what readers see while its file stays until delete(): an object
   * whose removal is still being finished is gone for the API, yet a crash before delete()
   * finds the file again at the next start and finishes the removal.
   */
  hide(id: string): void {
    this.records.delete(id);
  }

  async delete(id: string): Promise<void> {
    await fsp.rm(path.join(this.dir, `${id}.json`), { force: true });
    this.records.delete(id);
  }
}
