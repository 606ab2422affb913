// `sim inverter --replay FILE`: a simulated dongle that answers and broadcasts from a field capture
// (src/lxp/capture.ts), so a user's capture of odd firmware becomes a test.
//
// - Requests are answered with the captured reply bytes for the same function, start register and count
//   (the last one captured); a read the capture has no reply for is answered from the register file the
//   capture shows (every value seen in a reply; 0 where none was seen). Writes are applied and echoed as the
//   simulator does; reads touching a written register are then answered from the register file.
// - Frames the dongle sent on its own (broadcasts, heartbeats, replies to other clients) are re-sent at their
//   captured times relative to the first frame (÷ speed), looping over the capture.
// planReplay is pure; ReplayInverter wraps an InverterSimulator with physics off.

import type { Logger } from "../log.ts";
import {
  decodeFrame,
  FN_READ_HOLD,
  FN_READ_INPUT,
  FN_WRITE_MULTI,
  FN_WRITE_SINGLE,
  type TranslatedData,
} from "../lxp/frame.ts";
import type { ParsedRecord } from "../lxp/capture.ts";
import { HOLD_COUNT, INPUT_COUNT, InverterSimulator } from "./inverter.ts";

export interface ReplayPlan {
  datalog: string;
  serial: string;
  firmware: "old" | "new";
  holdings: Map<number, number>;
  inputs: Map<number, number>;
  /** `${fn}:${register}:${count}` → the captured reply. */
  answers: Map<string, Uint8Array>;
  /** Unsolicited frames at their offset from the first record. */
  timeline: { atMs: number; bytes: Uint8Array }[];
  /** Time from the first to the last record. */
  durationMs: number;
  frames: number;
}

const key = (fn: number, register: number, count: number) => `${fn}:${register}:${count}`;

/** A capture's records → what the replay answers and sends. Throws RangeError when there is nothing to replay. */
export function planReplay(records: readonly ParsedRecord[]): ReplayPlan {
  const plan: ReplayPlan = {
    datalog: "",
    serial: "",
    firmware: "old",
    holdings: new Map(),
    inputs: new Map(),
    answers: new Map(),
    timeline: [],
    durationMs: 0,
    frames: 0,
  };
  const times = records.map((r) => Date.parse(r.t)).filter((t) => Number.isFinite(t));
  const t0 = times.length ? Math.min(...times) : 0;
  const pending: TranslatedData[] = [];
  let lastAt = 0;
  for (const r of records) {
    if (r.bad) continue;
    const d = decodeFrame(r.bytes, { direction: r.dir === "out" ? "request" : "reply" });
    if (!d.ok) continue;
    const p = d.packet;
    const at = Number.isFinite(Date.parse(r.t)) ? Date.parse(r.t) - t0 : lastAt;
    lastAt = at;
    if (r.dir === "out") {
      if (p.kind === "translated") pending.push(p);
      continue;
    }
    plan.frames++;
    plan.datalog ||= p.datalog;
    if (p.kind !== "translated") {
      if (p.kind === "heartbeat") plan.timeline.push({ atMs: at, bytes: r.bytes });
      continue;
    }
    plan.serial ||= p.serial;
    if (p.protocol === 5) plan.firmware = "new";
    const i = pending.findIndex((q) => q.fn === (p.fn & 0x7f) && q.register === p.register);
    const solicited = i >= 0;
    if (solicited) pending.splice(i, 1);
    else plan.timeline.push({ atMs: at, bytes: r.bytes });
    if (p.fn & 0x80) continue;
    if ((p.fn === FN_READ_HOLD || p.fn === FN_READ_INPUT) && p.values) {
      plan.answers.set(key(p.fn, p.register, p.values.length), r.bytes);
      const bank = p.fn === FN_READ_HOLD ? plan.holdings : plan.inputs;
      p.values.forEach((v, k) => bank.set(p.register + k, v));
    } else if (p.fn === FN_WRITE_SINGLE && p.value !== undefined) {
      plan.holdings.set(p.register, p.value);
    }
  }
  if (!plan.serial) {
    throw new RangeError("the capture holds no translated frame from a dongle: nothing to replay");
  }
  plan.durationMs = lastAt;
  return plan;
}

export interface ReplayOptions {
  host?: string;
  port?: number;
  /** Timeline speed factor (2 = twice as fast); default 1. */
  speed?: number;
  /** Start the timeline again after the last frame (default true). */
  loop?: boolean;
}

export class ReplayInverter {
  readonly sim: InverterSimulator;
  private dirty = new Set<number>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;

  constructor(private readonly plan: ReplayPlan, private readonly o: ReplayOptions, logger: Logger) {
    this.sim = new InverterSimulator({
      host: o.host,
      port: o.port,
      datalog: plan.datalog,
      serial: plan.serial,
      firmware: plan.firmware,
      interval: 0,
      heartbeatInterval: 0,
      physics: false,
      answer: (p) => this.answer(p),
    }, logger);
    this.sim.holdings.fill(0);
    this.sim.inputs.fill(0);
    for (const [r, v] of plan.holdings) if (r < HOLD_COUNT) this.sim.holdings[r] = v;
    for (const [r, v] of plan.inputs) if (r < INPUT_COUNT) this.sim.inputs[r] = v;
  }

  private answer(p: TranslatedData): Uint8Array | undefined {
    if (p.fn === FN_WRITE_SINGLE) {
      this.dirty.add(p.register);
      return undefined;
    }
    if (p.fn === FN_WRITE_MULTI) {
      (p.values ?? []).forEach((_, i) => this.dirty.add(p.register + i));
      return undefined;
    }
    if (p.fn !== FN_READ_HOLD && p.fn !== FN_READ_INPUT) return undefined;
    const count = p.count ?? 0;
    if (p.fn === FN_READ_HOLD) {
      for (let r = p.register; r < p.register + count; r++) if (this.dirty.has(r)) return undefined;
    }
    return this.plan.answers.get(key(p.fn, p.register, count));
  }

  async start(): Promise<{ port: number }> {
    const r = await this.sim.start();
    // The dongle's own frames start when the first client is there to see them.
    const wait = () => {
      if (this.stopped) return;
      if (this.sim.clientCount > 0) this.playFrom(0);
      else this.timer = setTimeout(wait, 50);
    };
    wait();
    return r;
  }

  private playFrom(index: number): void {
    const tl = this.plan.timeline;
    if (this.stopped || tl.length === 0) return;
    if (index >= tl.length) {
      if (this.o.loop === false) return;
      // one gap of a second (at speed) between rounds, so a one-frame capture does not spin
      this.timer = setTimeout(() => this.playFrom(0), 1000 / (this.o.speed ?? 1));
      return;
    }
    const speed = this.o.speed ?? 1;
    const wait = index === 0 ? 0 : Math.max(0, (tl[index].atMs - tl[index - 1].atMs) / speed);
    this.timer = setTimeout(() => {
      this.sim.sendFrame(tl[index].bytes);
      this.playFrom(index + 1);
    }, wait);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.sim.stop();
  }
}
