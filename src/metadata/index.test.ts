import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { promises as fsp } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { RecordStore } from "./index.js";

describe("RecordStore", () => {
  it("loads whole records, skips damaged ones and removes the temporary files of cut writes", async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), "pier-records-"));
    try {
      await fsp.writeFile(path.join(dir, "a.json"), JSON.stringify({ n: 1 }));
      await fsp.writeFile(path.join(dir, "b.json"), "{ cut");
      // What writeFileAtomic leaves when a crash or a full disk stops it before the rename.
      await fsp.writeFile(path.join(dir, ".c.json.0123456789ab.tmp"), '{"n":');
      const store = new RecordStore<{ n: number }>(dir);
      await store.load();
      assert.deepEqual([...store.entries()], [["a", { n: 1 }]]);
      assert.deepEqual((await fsp.readdir(dir)).sort(), ["a.json", "b.json"]);
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});
