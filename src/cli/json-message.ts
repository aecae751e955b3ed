// jsonmessage.DisplayJSONMessagesStream in its non-terminal form: one line per status, progress
// updates left out, `stream` text copied as is, an `error` ending the stream.

import { StreamError } from "../client/index.js";
import { rfc3339NanoFixed } from "./format.js";

export interface JSONMessage {
  stream?: string;
  status?: string;
  progress?: string;
  progressDetail?: { current?: number; total?: number };
  id?: string;
  from?: string;
  time?: number;
  timeNano?: number;
  error?: string;
  errorDetail?: { code?: number; message?: string };
  aux?: unknown;
}

/** Render one message; returns the text to print (maybe empty). Throws the stream's error. */
export function renderJSONMessage(jm: JSONMessage): string {
  if (jm.errorDetail?.message || jm.error) throw new StreamError(jm.errorDetail?.message || jm.error || "");
  const pd = jm.progressDetail;
  if (pd && ((pd.current ?? 0) > 0 || (pd.total ?? 0) > 0)) return "";
  let out = "";
  if (jm.timeNano) out += `${rfc3339NanoFixed(Math.floor(jm.timeNano / 1e6), jm.timeNano % 1e6)} `;
  else if (jm.time) out += `${rfc3339NanoFixed(jm.time * 1000)} `;
  if (jm.id) out += `${jm.id}: `;
  if (jm.from) out += `(from ${jm.from}) `;
  if (jm.progress) out += `${jm.status ?? ""} ${jm.progress}`;
  else if (jm.stream) out += jm.stream;
  else out += `${jm.status ?? ""}\n`;
  return out;
}

/**
 * Consume a JSON message stream (from ApiClient.jsonLines) into `write`; aux messages go to
 * onAux instead of the output.
 */
export function jsonMessagePrinter(write: (text: string) => void, onAux?: (aux: unknown) => void): (msg: Record<string, unknown>) => void {
  return (msg) => {
    const jm = msg as JSONMessage;
    if (jm.aux !== undefined) {
      onAux?.(jm.aux);
      return;
    }
    const text = renderJSONMessage(jm);
    if (text) write(text);
  };
}
