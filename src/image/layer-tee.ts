// One pass over a layer tar while an image archive streams in: the bytes go into the content
// store (the original tar is kept for save) and, at the same time, are unpacked into the
// snapshotter's staging area, so load never reads a layer back to hash and unpack it. Staging
// is an optimisation only: when it fails (not a layer after all, an odd entry) the blob is
// still stored and load unpacks it from the store as before.

import { PassThrough, type Writable } from "node:stream";
import type { ContentStore } from "../content/index.js";
import type { StagedLayer } from "../snapshot/index.js";

/** Where staged layers are made and thrown away (the snapshotter). */
export interface LayerStager {
  stageLayer(tar: PassThrough): Promise<StagedLayer>;
  discardStaged(staged: StagedLayer): Promise<void>;
}

type IngestResult = Awaited<ReturnType<ContentStore["ingest"]>>;

const BUFFER = 1 << 20;

/** A plain tar starts with a header whose magic ("ustar") sits at offset 257. */
function startsLikeTar(b: Uint8Array): boolean {
  return b.length >= 263 && Buffer.from(b.buffer, b.byteOffset + 257, 5).toString("latin1") === "ustar";
}

/** Resolves when `w` may take more: drained, or gone (its consumer stopped). */
function writable(w: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      w.off("drain", done).off("close", done).off("error", done);
      resolve();
    };
    w.on("drain", done).on("close", done).on("error", done);
  });
}

/** Store `entry` under its digest and, when it looks like an uncompressed tar, stage it. */
export async function ingestAndStage(
  entry: AsyncIterable<Uint8Array>,
  content: ContentStore,
  expected: string | undefined,
  stager: LayerStager,
  onStageError: (err: unknown) => void,
): Promise<{ stored: IngestResult; staged?: StagedLayer }> {
  const toStore = new PassThrough({ highWaterMark: BUFFER });
  const storing = content.ingest(toStore, expected);
  storing.catch(() => {});
  let toStage: PassThrough | undefined;
  let staging: Promise<StagedLayer | undefined> = Promise.resolve(undefined);
  let first = true;
  try {
    for await (const chunk of entry) {
      if (first) {
        first = false;
        if (startsLikeTar(chunk)) {
          const s = new PassThrough({ highWaterMark: BUFFER });
          toStage = s;
          staging = stager.stageLayer(s).catch((err) => {
            onStageError(err);
            toStage = undefined;
            s.destroy();
            return undefined;
          });
        }
      }
      const waits: Promise<void>[] = [];
      if (!toStore.destroyed && !toStore.write(chunk)) waits.push(writable(toStore));
      if (toStage && !toStage.destroyed && !toStage.write(chunk)) waits.push(writable(toStage));
      if (waits.length) await Promise.all(waits);
    }
    toStore.end();
    toStage?.end();
  } catch (err) {
    toStore.destroy(err as Error);
    toStage?.destroy(err as Error);
    await storing.catch(() => {});
    const staged = await staging;
    if (staged) await stager.discardStaged(staged).catch(() => {});
    throw err;
  }
  let stored: IngestResult;
  try {
    stored = await storing;
  } catch (err) {
    const staged = await staging;
    if (staged) await stager.discardStaged(staged).catch(() => {});
    throw err;
  }
  const staged = await staging;
  return { stored, ...(staged ? { staged } : {}) };
}
