// LXP codec benchmark: `deno run -A tests/bench/lxp_codec_bench.ts`
// Prints decode rates for 117-byte input replies and 291-byte protocol-5 0–126 frames, FrameSplitter
// throughput on a randomly chunked stream of mixed frames, and decodeInputReply → JSON.stringify rate.
// Targets: ≥1,000,000 117-byte frames/s on one core.

import {
  decodeFrame,
  encodePacket,
  FrameSplitter,
  type Packet,
  type TranslatedData,
} from "../../src/lxp/frame.ts";
import { decodeInputReply } from "../../src/lxp/inputs.ts";
import { prng } from "../../src/sim/inverter.ts";

const DL = "BA12345678", SN = "0123456789";

function inputReply(register: number, n: number, protocol: number, rand: () => number): TranslatedData {
  const values = Array.from({ length: n }, () => Math.floor(rand() * 4000));
  return {
    kind: "translated",
    protocol,
    datalog: DL,
    address: 1,
    fn: 4,
    serial: SN,
    register,
    values,
    byteCountPresent: true,
  };
}

/** Run `fn` repeatedly for about `ms` milliseconds; returns operations per second. */
function rate(fn: () => number, ms = 1000): number {
  for (let i = 0; i < 50; i++) fn(); // warm-up
  let ops = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < ms) {
    ops += fn();
    t = performance.now();
  }
  return ops / ((t - t0) / 1000);
}

export function runCodecBench(opts: { ms?: number } = {}): Promise<Record<string, number>> {
  const ms = opts.ms ?? 1000;
  const rand = prng(42);
  const f117 = encodePacket(inputReply(0, 40, 2, rand));
  const f291 = encodePacket(inputReply(0, 127, 5, rand));
  if (f117.length !== 117 || f291.length !== 291) throw new Error("unexpected frame sizes");

  let sink = 0;
  const batch = 10000;
  const decode117 = rate(() => {
    for (let i = 0; i < batch; i++) {
      const r = decodeFrame(f117);
      if (r.ok) sink++;
    }
    return batch;
  }, ms);
  const decode291 = rate(() => {
    for (let i = 0; i < batch; i++) {
      const r = decodeFrame(f291);
      if (r.ok) sink++;
    }
    return batch;
  }, ms);

  // Mixed stream: heartbeats, 40-register replies of blocks 1–4, 0–126 frames, hold replies, write echoes.
  const packets: Packet[] = [];
  for (let i = 0; i < 2000; i++) {
    const k = Math.floor(rand() * 6);
    if (k === 0) packets.push({ kind: "heartbeat", protocol: 2, datalog: DL, trailer: 0 });
    else if (k === 1) packets.push(inputReply(0, 127, 5, rand));
    else if (k === 2) {
      packets.push({
        kind: "translated",
        protocol: 2,
        datalog: DL,
        address: 1,
        fn: 6,
        serial: SN,
        register: 21,
        value: 62292,
      });
    } else if (k === 3) packets.push({ ...inputReply(Math.floor(rand() * 6) * 40, 40, 2, rand), fn: 3 });
    else packets.push(inputReply(Math.floor(rand() * 4) * 40, 40, 2, rand));
  }
  const frames = packets.map(encodePacket);
  const stream = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  let o = 0;
  for (const f of frames) {
    stream.set(f, o);
    o += f.length;
  }
  const chunks: Uint8Array[] = [];
  for (let p = 0; p < stream.length;) {
    const len = 1 + Math.floor(rand() * 1460);
    chunks.push(stream.subarray(p, p + len));
    p += len;
  }
  const splitterMBs = rate(() => {
    const sp = new FrameSplitter();
    let n = 0;
    for (const c of chunks) n += sp.push(c).length;
    if (n !== packets.length || sp.badFrames !== 0) throw new Error(`splitter lost frames: ${n}`);
    return stream.length;
  }, ms) / 1e6;
  const splitterFrames = splitterMBs * 1e6 / (stream.length / packets.length);

  const v40 = (decodeFrame(f117) as { ok: true; packet: TranslatedData }).packet.values!;
  const v127 = (decodeFrame(f291) as { ok: true; packet: TranslatedData }).packet.values!;
  const json40 = rate(() => {
    for (let i = 0; i < 1000; i++) {
      for (const b of decodeInputReply(0, v40)) sink += JSON.stringify(b.json).length;
    }
    return 1000;
  }, ms);
  const json127 = rate(() => {
    for (let i = 0; i < 1000; i++) {
      for (const b of decodeInputReply(0, v127)) sink += JSON.stringify(b.json).length;
    }
    return 1000;
  }, ms);
  if (sink < 0) console.error(sink);

  return Promise.resolve({
    "decode_117B_frames_per_s": Math.round(decode117),
    "decode_291B_p5_frames_per_s": Math.round(decode291),
    "splitter_MB_per_s": Math.round(splitterMBs * 10) / 10,
    "splitter_frames_per_s": Math.round(splitterFrames),
    "inputs_json_block_per_s": Math.round(json40),
    "inputs_json_all_frame_per_s": Math.round(json127),
  });
}

if (import.meta.main) {
  const r = await runCodecBench();
  const label: Record<string, string> = {
    decode_117B_frames_per_s: "117-byte input frames decoded/s",
    decode_291B_p5_frames_per_s: "291-byte protocol-5 0–126 frames decoded/s",
    splitter_MB_per_s: "FrameSplitter throughput, MB/s (mixed frames, random chunks)",
    splitter_frames_per_s: "FrameSplitter frames/s",
    inputs_json_block_per_s: "decodeInputReply(40 regs) → JSON.stringify per s",
    inputs_json_all_frame_per_s: "decodeInputReply(0–126 → 3 blocks) → JSON.stringify per s",
  };
  for (const [k, v] of Object.entries(r)) console.log(`${label[k] ?? k}: ${v.toLocaleString("en-US")}`);
}
