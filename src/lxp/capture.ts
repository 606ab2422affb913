// PURE: field captures of the LXP link — one JSON line per frame, to or from the dongle, with a timestamp:
//   {"t":"2026-12-01T15:04:05.123Z","dir":"in","hex":"a11a…"}
// `dir` is "in" (from the dongle) or "out" (sent to it); bytes that are not a frame (garbage, a cut-off
// frame) are kept too, with "bad":true, so a capture of odd firmware loses nothing.
// WireCutter cuts a byte stream into frames by the header's length field only (no CRC or layout checks:
// decoding is the reader's job).

import { MAX_FRAME_LENGTH } from "./frame.ts";
import { fromHex, toHex } from "./frame.ts";

export interface CaptureRecord {
  /** ISO timestamp. */
  t: string;
  dir: "in" | "out";
  hex: string;
  bad?: true;
}

export interface CutPiece {
  bytes: Uint8Array;
  /** Not a frame: bytes before a prefix, or a header whose length is impossible. */
  bad: boolean;
}

/** Cuts chunks of a TCP stream into whole frames (A1 1A, u16 LE length at 4 = bytes after it). */
export class WireCutter {
  private buf = new Uint8Array(0);

  push(chunk: Uint8Array): CutPiece[] {
    const joined = new Uint8Array(this.buf.length + chunk.length);
    joined.set(this.buf);
    joined.set(chunk, this.buf.length);
    const out: CutPiece[] = [];
    let off = 0;
    while (off < joined.length) {
      const start = findPrefix(joined, off);
      if (start < 0) {
        // keep a trailing 0xA1 (maybe the first half of a prefix)
        const keep = joined[joined.length - 1] === 0xa1 ? 1 : 0;
        if (joined.length - keep > off) {
          out.push({ bytes: joined.slice(off, joined.length - keep), bad: true });
        }
        off = joined.length - keep;
        break;
      }
      if (start > off) out.push({ bytes: joined.slice(off, start), bad: true });
      off = start;
      if (joined.length - off < 6) break;
      const total = 6 + (joined[off + 4] | (joined[off + 5] << 8));
      if (total < 19 || total > MAX_FRAME_LENGTH + 6) {
        out.push({ bytes: joined.slice(off, off + 2), bad: true });
        off += 2;
        continue;
      }
      if (joined.length - off < total) break;
      out.push({ bytes: joined.slice(off, off + total), bad: false });
      off += total;
    }
    this.buf = joined.slice(off);
    return out;
  }

  /** Whatever is left (an incomplete frame), as a bad piece. */
  flush(): CutPiece[] {
    const rest = this.buf;
    this.buf = new Uint8Array(0);
    return rest.length ? [{ bytes: rest, bad: true }] : [];
  }
}

function findPrefix(b: Uint8Array, from: number): number {
  for (let i = from; i + 1 < b.length; i++) if (b[i] === 0xa1 && b[i + 1] === 0x1a) return i;
  return -1;
}

export function captureLine(t: Date, dir: "in" | "out", piece: CutPiece): string {
  const rec: CaptureRecord = { t: t.toISOString(), dir, hex: toHex(piece.bytes) };
  if (piece.bad) rec.bad = true;
  return JSON.stringify(rec);
}

export interface ParsedRecord extends CaptureRecord {
  line: number;
  bytes: Uint8Array;
}

/** A capture file's text → its records; throws RangeError naming the first bad line. Blank lines skipped. */
export function parseCapture(text: string, fileName = "capture"): ParsedRecord[] {
  const out: ParsedRecord[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line === "") return;
    const where = `${fileName} line ${i + 1}`;
    let doc: unknown;
    try {
      doc = JSON.parse(line);
    } catch {
      throw new RangeError(`${where}: not JSON (got "${line.slice(0, 60)}")`);
    }
    const r = doc as Partial<CaptureRecord>;
    if (
      typeof r !== "object" || r === null || (r.dir !== "in" && r.dir !== "out") || typeof r.hex !== "string"
    ) {
      throw new RangeError(`${where}: needs "dir" ("in" or "out") and "hex" (got "${line.slice(0, 60)}")`);
    }
    const t = typeof r.t === "string" ? r.t : "";
    if (t !== "" && Number.isNaN(Date.parse(t))) throw new RangeError(`${where}: bad time "${t}"`);
    let bytes: Uint8Array;
    try {
      bytes = fromHex(r.hex);
    } catch (e) {
      throw new RangeError(`${where}: ${(e as Error).message} (got "${r.hex.slice(0, 60)}")`);
    }
    out.push({ t, dir: r.dir, hex: r.hex, ...(r.bad ? { bad: true as const } : {}), line: i + 1, bytes });
  });
  return out;
}
