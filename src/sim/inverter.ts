// A simulated LuxPower WiFi dongle + inverter on TCP (the dongle's "TCP server" slot), built on
// lxp/frame.ts. It speaks the dongle side of the protocol:
//
// - translated-data requests (0x03 read hold, 0x04 read input, 0x06 write single, 0x10 write multi)
//   carrying the right datalog AND inverter serial are answered; anything else is ignored (a real unit
//   does not answer wrong serials). Replies are sent to ALL connected clients, as a real dongle does.
// - reads: any count 1..127. A range that reaches past the register file (holdings 0–239, inputs
//   0–159) is answered with exception 0x02 (illegal data address); count 0 or > 127 with 0x03.
//   Replies use protocol 2 ("old" firmware) or 5 ("new"), always with the byte-count byte.
// - writes: echo the value; register 21 bits act on the simulated battery (bit 7 AC charge from grid,
//   bit 10 forced discharge, bit 11 charge priority), 64/65/66/67/105 limit the rates and SOCs
//   (65 = 0 stops all discharging). Writes past register 239 → exception 0x02.
// - read param (0xC3): param 0 = input broadcast interval (s, u16), other params answer 0.
//   write param (0xC4) param 0 changes the interval; the reply carries result 0.
// - unsolicited: a heartbeat every `heartbeatInterval` s, and input broadcasts every `interval` s:
//   old firmware = three 40-register protocol-2 frames (0, 40, 80) ~1 s apart (shorter when the interval
//   is short), new firmware = one protocol-5 frame with registers 0–126.
// - fault injection (see SimFaults), changeable at run time with setFaults().
//
// The physics is deliberately simple but consistent: PV follows a day curve from the (sim) clock,
// household load wanders, the battery charges/discharges and SOC, voltages, temperatures and the
// energy counters move accordingly.

import type { Logger } from "../log.ts";
import {
  encodePacket,
  FN_READ_HOLD,
  FN_READ_INPUT,
  FN_WRITE_MULTI,
  FN_WRITE_SINGLE,
  FrameSplitter,
  type Packet,
  type TranslatedData,
} from "../lxp/frame.ts";
import { findByKey, REG21_BITS } from "../lxp/registers.ts";

/** Holding registers the simulated inverter acts on, by their keys in the register table. */
const hold = (key: string): number => {
  const def = findByKey("hold", key);
  if (!def) throw new Error(`sim: no holding register "${key}"`);
  return def.register;
};
const bit = (key: string): number => REG21_BITS.find((b) => b.key === key)!.bit;
const REG = {
  funcEn: hold("func_en"),
  chargePct: hold("charge_power_percent_cmd"),
  dischargePct: hold("dischg_power_percent_cmd"),
  acChargePct: hold("ac_charge_power_cmd"),
  acChargeSocLimit: hold("ac_charge_soc_limit"),
} as const;
const BIT = {
  acCharge: bit("ac_charge_en"),
  forcedDischarge: bit("forced_discharge_en"),
  chargePriority: bit("charge_priority_en"),
} as const;

export const HOLD_COUNT = 240;
export const INPUT_COUNT = 160;

export interface SimFaults {
  /** Close every client connection every N ms (0/undefined = never). */
  dropEveryMs?: number;
  /** Probability (0..1) that a valid request makes the sim close that client's connection instead of answering. */
  dropProbability?: number;
  /** Split every outgoing frame into random chunks written separately. */
  chunk?: boolean;
  /** Probability (0..1) per outgoing frame of sending random garbage bytes before it. */
  garbageProbability?: number;
  /** Probability (0..1) per outgoing frame of sending a corrupted-CRC copy before it. */
  badCrcProbability?: number;
  /** Delay every reply by this many ms. */
  delayMs?: number;
  /** Requests touching any of these registers are answered with an exception reply. */
  exceptionRegisters?: number[];
  /** Exception code used for exceptionRegisters (default 0x04, slave device failure). */
  exceptionCode?: number;
  /** Accept connections but never send anything (no replies, heartbeats or broadcasts). */
  silent?: boolean;
  /** Write-single echoes carry a wrong value (value XOR 1); the written value is still stored. */
  corruptEcho?: boolean;
  /** Leave the next N valid requests unanswered (counts down; a lost reply). */
  skipRequests?: number;
  /** Probability (0..1) per write-single that its echo carries a wrong value (value XOR 1). */
  corruptEchoProbability?: number;
  /** Probability (0..1) per write that it is executed but its echo is never sent (a dropped echo). */
  dropEchoProbability?: number;
  /**
   * Probability (0..1) per reply of first sending the first 60 bytes of a 291-byte protocol-5 input frame
   * (a reply the dongle cut short), then the reply itself.
   */
  truncateBeforeReplyProbability?: number;
}

/** One write request as the simulated inverter saw it (SimulatedInverter.writeLog). */
export interface SimWrite {
  /** Position in the log (0, 1, 2 …). */
  seq: number;
  register: number;
  value: number;
  /** false when it was not executed (exception, dropped request, skipped request). */
  executed: boolean;
  /** The register's value after the request. */
  after: number;
}

export interface InverterSimOptions {
  host?: string; // 127.0.0.1
  port?: number; // 8000; 0 = ephemeral
  datalog?: string; // 10 chars
  serial?: string; // 10 chars
  /** Input broadcast interval in seconds (120); 0 = no broadcasts. */
  interval?: number;
  firmware?: "old" | "new";
  /** Heartbeat interval in seconds (60); 0 = none. */
  heartbeatInterval?: number;
  /** Physics step in ms (1000). */
  tickMs?: number;
  /** Sim clock (default wall clock). */
  clock?: () => Date;
  /** Seed for the fault-injection random numbers (default: time based). */
  seed?: number;
  faults?: SimFaults;
  /** false: no physics ticks and no clock (registers keep what was put there; replay). Default true. */
  physics?: boolean;
  /**
   * Consulted for every valid request before the simulator answers it: bytes to send instead (a replay
   * answering from a capture), or undefined for the simulator's own answer (writes are still applied).
   */
  answer?: (p: TranslatedData) => Uint8Array | undefined;
}

export interface SimStats {
  connections: number;
  requests: number;
  reads: number;
  writes: number;
  ignored: number;
  heartbeatEchoes: number;
  framesOut: number;
  drops: number;
  badFramesIn: number;
}

interface Client {
  id: number;
  conn: Deno.TcpConn;
  writeChain: Promise<void>;
  closed: boolean;
}

/** mulberry32: small deterministic PRNG (fault injection; the codec benchmark's frames). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function asciiToRegs(s: string, regs: Uint16Array, start: number): void {
  for (let i = 0; i < s.length; i += 2) {
    regs[start + i / 2] = (s.charCodeAt(i) & 0xff) | ((s.charCodeAt(i + 1) & 0xff) << 8);
  }
}

export class InverterSimulator {
  readonly holdings = new Uint16Array(HOLD_COUNT);
  readonly inputs = new Uint16Array(INPUT_COUNT);
  readonly stats: SimStats = {
    connections: 0,
    requests: 0,
    reads: 0,
    writes: 0,
    ignored: 0,
    heartbeatEchoes: 0,
    framesOut: 0,
    drops: 0,
    badFramesIn: 0,
  };
  /** Every valid request received (for tests: count what was sent). */
  readonly received: TranslatedData[] = [];
  /** Every write request (0x06, and each register of 0x10) in the order received, executed or not. */
  readonly writeLog: SimWrite[] = [];

  readonly datalog: string;
  readonly serial: string;
  private readonly host: string;
  private readonly port: number;
  private interval: number;
  private readonly firmware: "old" | "new";
  private readonly heartbeatInterval: number;
  private readonly tickMs: number;
  private readonly clock: () => Date;
  private faults: SimFaults;
  private readonly physics: boolean;
  private readonly answer?: (p: TranslatedData) => Uint8Array | undefined;
  private rand: () => number;
  private readonly log: Logger;

  private listener: Deno.TcpListener | null = null;
  private acceptLoop: Promise<void> | null = null;
  private clients = new Map<number, Client>();
  private clientLoops = new Set<Promise<void>>();
  private nextId = 1;
  private timers = new Set<ReturnType<typeof setTimeout>>();
  private intervals = new Set<ReturnType<typeof setInterval>>();
  private dropTimer: ReturnType<typeof setInterval> | undefined;
  private broadcastTimer: ReturnType<typeof setTimeout> | undefined;
  private stopping = false;

  // physics state
  private socWh = 0;
  private readonly capacityWh = 10240; // 200 Ah × 51.2 V
  private lastTick = 0;
  private acc: Record<string, number> = {}; // Wh accumulators (day and total)
  private clockOffsetMs = 0;
  private day = -1;
  private runtimeS = 82628180;
  private loadW = 450;

  constructor(options: InverterSimOptions = {}, logger: Logger) {
    this.host = options.host ?? "127.0.0.1";
    this.port = options.port ?? 8000;
    this.datalog = options.datalog ?? "BA12345678";
    this.serial = options.serial ?? "0123456789";
    for (const [k, v] of [["datalog", this.datalog], ["serial", this.serial]]) {
      if (v.length !== 10) throw new RangeError(`${k} must be exactly 10 characters, got "${v}"`);
    }
    this.interval = options.interval ?? 120;
    this.firmware = options.firmware ?? "old";
    this.heartbeatInterval = options.heartbeatInterval ?? 60;
    this.tickMs = options.tickMs ?? 1000;
    this.clock = options.clock ?? (() => new Date());
    this.faults = { ...(options.faults ?? {}) };
    this.physics = options.physics ?? true;
    this.answer = options.answer;
    this.rand = prng(options.seed ?? (Date.now() & 0xffffffff));
    this.log = logger.child({ component: "sim-inverter" });
    this.initRegisters();
  }

  /** Number of connected clients. */
  get clientCount(): number {
    return this.clients.size;
  }

  /** Change fault injection at run time (merged into the current faults). */
  setFaults(f: SimFaults): void {
    this.faults = { ...this.faults, ...f };
    this.armDropTimer();
  }

  get currentFaults(): SimFaults {
    return { ...this.faults };
  }

  start(): Promise<{ port: number }> {
    if (this.listener) return Promise.resolve({ port: (this.listener.addr as Deno.NetAddr).port });
    this.listener = Deno.listen({ hostname: this.host, port: this.port, transport: "tcp" });
    const port = (this.listener.addr as Deno.NetAddr).port;
    this.lastTick = this.clock().getTime();
    this.acceptLoop = this.accept(this.listener);
    if (this.physics) this.every(this.tickMs, () => this.tick());
    if (this.heartbeatInterval > 0) this.every(this.heartbeatInterval * 1000, () => this.sendHeartbeat());
    this.armBroadcast();
    this.armDropTimer();
    this.log.info("simulated dongle listening", {
      host: this.host,
      port,
      datalog: this.datalog,
      serial: this.serial,
    });
    return Promise.resolve({ port });
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const t of this.intervals) clearInterval(t);
    this.intervals.clear();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    clearInterval(this.dropTimer);
    clearTimeout(this.broadcastTimer);
    try {
      this.listener?.close();
    } catch { /* closed */ }
    for (const c of this.clients.values()) this.closeClient(c);
    await this.acceptLoop;
    await Promise.all([...this.clientLoops]);
    await Promise.all([...this.clients.values()].map((c) => c.writeChain));
    this.listener = null;
  }

  /** Close every client connection now (fault injection / tests). */
  dropAll(): void {
    for (const c of this.clients.values()) {
      this.stats.drops++;
      this.closeClient(c);
    }
  }

  /** Send the input broadcast now (old firmware: three frames with gaps; new: one 0–126 frame). */
  broadcastInputs(): void {
    if (this.faults.silent) return;
    if (this.firmware === "new") {
      this.sendAll(this.readReply(FN_READ_INPUT, 0, 127, 5));
      return;
    }
    const gap = Math.min(1000, Math.max(10, (this.interval * 1000) / 20));
    this.sendAll(this.readReply(FN_READ_INPUT, 0, 40, 2));
    this.after(gap, () => this.sendAll(this.readReply(FN_READ_INPUT, 40, 40, 2)));
    this.after(2 * gap, () => this.sendAll(this.readReply(FN_READ_INPUT, 80, 40, 2)));
  }

  /** Send raw frame bytes to every client now (a replay's captured broadcasts); honours `silent`. */
  sendFrame(bytes: Uint8Array): void {
    if (this.faults.silent) return;
    this.sendAll(bytes);
  }

  /** Send a heartbeat to every client now. */
  sendHeartbeat(): void {
    if (this.faults.silent) return;
    this.sendAll(
      encodePacket({
        kind: "heartbeat",
        protocol: this.firmware === "new" ? 5 : 2,
        datalog: this.datalog,
        trailer: 0,
      }),
    );
  }

  /** Advance the physics by `seconds` at once (tests; the periodic tick keeps running too). */
  step(seconds: number): void {
    this.update(seconds);
  }

  // ------------------------------------------------------------------------------------------------
  // timers

  private every(ms: number, fn: () => void): void {
    const id = setInterval(() => {
      try {
        fn();
      } catch (e) {
        this.log.error("sim timer failed", { error: e });
      }
    }, ms);
    this.intervals.add(id);
  }

  private after(ms: number, fn: () => void): void {
    if (this.stopping) return;
    const id = setTimeout(() => {
      this.timers.delete(id);
      try {
        fn();
      } catch (e) {
        this.log.error("sim timer failed", { error: e });
      }
    }, ms);
    this.timers.add(id);
  }

  private armBroadcast(): void {
    clearTimeout(this.broadcastTimer);
    if (this.stopping || !(this.interval > 0)) return;
    this.broadcastTimer = setTimeout(() => {
      try {
        this.broadcastInputs();
      } catch (e) {
        this.log.error("broadcast failed", { error: e });
      }
      this.armBroadcast();
    }, this.interval * 1000);
  }

  private armDropTimer(): void {
    clearInterval(this.dropTimer);
    this.dropTimer = undefined;
    const ms = this.faults.dropEveryMs ?? 0;
    if (this.stopping || !this.listener || !(ms > 0)) return;
    this.dropTimer = setInterval(() => {
      if (this.clients.size) this.log.info("fault: dropping all connections");
      this.dropAll();
    }, ms);
  }

  // ------------------------------------------------------------------------------------------------
  // connections

  private async accept(listener: Deno.TcpListener): Promise<void> {
    while (!this.stopping) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch (e) {
        if (!this.stopping) this.log.error("accept failed", { error: e });
        break;
      }
      if (this.stopping) {
        try {
          conn.close();
        } catch { /* closed */ }
        break;
      }
      try {
        conn.setNoDelay(true);
      } catch { /* ignore */ }
      const client: Client = { id: this.nextId++, conn, writeChain: Promise.resolve(), closed: false };
      this.clients.set(client.id, client);
      this.stats.connections++;
      this.log.debug("client connected", { client: client.id });
      const loop = this.serve(client).finally(() => this.clientLoops.delete(loop));
      this.clientLoops.add(loop);
    }
  }

  private async serve(c: Client): Promise<void> {
    const splitter = new FrameSplitter();
    const buf = new Uint8Array(16 * 1024);
    let bad = 0;
    try {
      while (!c.closed) {
        let n: number | null;
        try {
          n = await c.conn.read(buf);
        } catch {
          break;
        }
        if (n === null) break;
        const packets = splitter.push(buf.slice(0, n));
        this.stats.badFramesIn += splitter.badFrames - bad;
        bad = splitter.badFrames;
        for (const p of packets) {
          try {
            this.handle(c, p);
          } catch (e) {
            this.log.error("sim failed to handle a packet", { error: e });
          }
        }
      }
    } finally {
      this.closeClient(c);
      await c.writeChain;
      this.log.debug("client disconnected", { client: c.id });
    }
  }

  private closeClient(c: Client): void {
    if (!c.closed) {
      c.closed = true;
      try {
        c.conn.close();
      } catch { /* closed */ }
    }
    this.clients.delete(c.id);
  }

  private write(c: Client, bytes: Uint8Array): void {
    if (c.closed) return;
    const parts: Uint8Array[] = [];
    const f = this.faults;
    if ((f.garbageProbability ?? 0) > 0 && this.rand() < f.garbageProbability!) {
      const g = new Uint8Array(1 + Math.floor(this.rand() * 16));
      for (let i = 0; i < g.length; i++) {
        let b = Math.floor(this.rand() * 256);
        if (b === 0xa1) b = 0x55;
        g[i] = b;
      }
      parts.push(g);
    }
    if ((f.badCrcProbability ?? 0) > 0 && this.rand() < f.badCrcProbability! && bytes.length > 20) {
      const bad = bytes.slice();
      bad[bad.length - 1] ^= 0x5a;
      parts.push(bad);
    }
    parts.push(bytes);
    const chunks: Uint8Array[] = [];
    for (const p of parts) {
      if (!f.chunk) {
        chunks.push(p);
        continue;
      }
      let off = 0;
      while (off < p.length) {
        const n = 1 + Math.floor(this.rand() * Math.min(24, p.length - off));
        chunks.push(p.subarray(off, off + n));
        off += n;
      }
    }
    const chunked = !!f.chunk;
    c.writeChain = c.writeChain.then(async () => {
      for (const ch of chunks) {
        if (c.closed) return;
        try {
          let off = 0;
          while (off < ch.length) off += await c.conn.write(ch.subarray(off));
        } catch {
          this.closeClient(c);
          return;
        }
        // Give the kernel a chance to send the chunk on its own.
        if (chunked) await new Promise<void>((r) => setTimeout(r, 0));
      }
      this.stats.framesOut++;
    });
  }

  private sendAll(bytes: Uint8Array): void {
    for (const c of this.clients.values()) this.write(c, bytes);
  }

  /** Send a reply to every client, honouring delay, silence and truncation. */
  private reply(bytes: Uint8Array): void {
    if (this.faults.silent) return;
    const send = () => {
      if (this.chance(this.faults.truncateBeforeReplyProbability)) {
        this.sendAll(this.readReply(FN_READ_INPUT, 0, 127, 5).subarray(0, 60));
      }
      this.sendAll(bytes);
    };
    const d = this.faults.delayMs ?? 0;
    if (d > 0) this.after(d, send);
    else send();
  }

  private chance(p: number | undefined): boolean {
    return (p ?? 0) > 0 && this.rand() < p!;
  }

  private logWrite(register: number, value: number, executed: boolean): void {
    this.writeLog.push({
      seq: this.writeLog.length,
      register,
      value,
      executed,
      after: register < HOLD_COUNT ? this.holdings[register] : 0,
    });
  }

  // ------------------------------------------------------------------------------------------------
  // request handling

  private handle(c: Client, p: Packet): void {
    if (p.datalog !== this.datalog) {
      this.stats.ignored++;
      this.log.debug("ignoring frame for another datalog", { datalog: p.datalog });
      return;
    }
    switch (p.kind) {
      case "heartbeat":
        this.stats.heartbeatEchoes++;
        return;
      case "readParam": {
        if (p.value !== undefined) return; // a reply? ignore
        const v = p.param === 0 ? this.interval : 0;
        this.reply(encodePacket({
          kind: "readParam",
          protocol: 2,
          datalog: this.datalog,
          param: p.param,
          value: new Uint8Array([v & 0xff, v >>> 8]),
        }));
        return;
      }
      case "writeParam": {
        if (p.value === undefined) return;
        if (p.param === 0 && p.value.length >= 2) {
          const v = p.value[0] | (p.value[1] << 8);
          if (v > 0) {
            this.interval = v;
            this.armBroadcast();
          }
        }
        this.reply(
          encodePacket({ kind: "writeParam", protocol: 2, datalog: this.datalog, param: p.param, result: 0 }),
        );
        return;
      }
      case "translated":
        break;
    }
    if (p.serial !== this.serial || p.address !== 0) {
      this.stats.ignored++;
      this.log.debug("ignoring request for another serial", { serial: p.serial });
      return;
    }
    this.stats.requests++;
    this.received.push(p);
    const notExecuted = () => {
      if (p.fn === FN_WRITE_SINGLE) this.logWrite(p.register, p.value ?? 0, false);
      else if (p.fn === FN_WRITE_MULTI) {
        (p.values ?? []).forEach((v, i) => this.logWrite(p.register + i, v, false));
      }
    };
    if ((this.faults.skipRequests ?? 0) > 0) {
      this.faults.skipRequests!--;
      this.log.info("fault: leaving a request unanswered", { fn: p.fn, register: p.register });
      notExecuted();
      return;
    }
    const dp = this.faults.dropProbability ?? 0;
    if (dp > 0 && this.rand() < dp) {
      this.log.info("fault: dropping connection on request", { client: c.id });
      this.stats.drops++;
      this.closeClient(c);
      notExecuted();
      return;
    }
    const replayed = this.answer?.(p);
    if (replayed) {
      if (p.fn === FN_WRITE_SINGLE && p.register < HOLD_COUNT) this.writeHolding(p.register, p.value ?? 0);
      this.reply(replayed);
      return;
    }
    const proto = this.firmware === "new" ? 5 : 2;
    const exc = (code: number) => {
      notExecuted();
      this.reply(encodePacket({
        kind: "translated",
        protocol: proto,
        datalog: this.datalog,
        address: 1,
        fn: p.fn | 0x80,
        serial: this.serial,
        register: p.register,
        exceptionCode: code,
      }));
    };
    const touches = (start: number, count: number) =>
      (this.faults.exceptionRegisters ?? []).some((r) => r >= start && r < start + count);
    const faultCode = this.faults.exceptionCode ?? 0x04;

    switch (p.fn) {
      case FN_READ_HOLD:
      case FN_READ_INPUT: {
        this.stats.reads++;
        const count = p.count ?? 0;
        const size = p.fn === FN_READ_HOLD ? HOLD_COUNT : INPUT_COUNT;
        if (count < 1 || count > 127) return exc(0x03);
        if (p.register + count > size) return exc(0x02);
        if (touches(p.register, count)) return exc(faultCode);
        this.reply(this.readReply(p.fn, p.register, count, proto));
        return;
      }
      case FN_WRITE_SINGLE: {
        this.stats.writes++;
        if (p.register >= HOLD_COUNT) return exc(0x02);
        if (touches(p.register, 1)) return exc(faultCode);
        this.writeHolding(p.register, p.value ?? 0);
        this.logWrite(p.register, p.value ?? 0, true);
        if (this.chance(this.faults.dropEchoProbability)) {
          this.log.info("fault: write executed, echo dropped", { register: p.register });
          return;
        }
        const corrupt = this.faults.corruptEcho || this.chance(this.faults.corruptEchoProbability);
        this.reply(encodePacket({
          kind: "translated",
          protocol: proto,
          datalog: this.datalog,
          address: 1,
          fn: FN_WRITE_SINGLE,
          serial: this.serial,
          register: p.register,
          value: corrupt ? this.holdings[p.register] ^ 1 : this.holdings[p.register],
        }));
        return;
      }
      case FN_WRITE_MULTI: {
        this.stats.writes++;
        const values = p.values ?? [];
        if (values.length === 0 || values.length > 127) return exc(0x03);
        if (p.register + values.length > HOLD_COUNT) return exc(0x02);
        if (touches(p.register, values.length)) return exc(faultCode);
        values.forEach((v, i) => {
          this.writeHolding(p.register + i, v);
          this.logWrite(p.register + i, v, true);
        });
        if (this.chance(this.faults.dropEchoProbability)) return;
        this.reply(encodePacket({
          kind: "translated",
          protocol: proto,
          datalog: this.datalog,
          address: 1,
          fn: FN_WRITE_MULTI,
          serial: this.serial,
          register: p.register,
          count: values.length,
        }));
        return;
      }
      default:
        return exc(0x01);
    }
  }

  private readReply(fn: number, register: number, count: number, protocol: number): Uint8Array {
    if (this.physics && fn === FN_READ_HOLD && register <= 14 && register + count > 12) this.refreshClock();
    const bank = fn === FN_READ_HOLD ? this.holdings : this.inputs;
    const values = Array.from(bank.subarray(register, register + count));
    return encodePacket({
      kind: "translated",
      protocol,
      datalog: this.datalog,
      address: 1,
      fn,
      serial: this.serial,
      register,
      values,
      byteCountPresent: true,
    });
  }

  private writeHolding(reg: number, value: number): void {
    this.holdings[reg] = value & 0xffff;
    if (reg >= 12 && reg <= 14) {
      // Clock set: remember the offset to the sim clock.
      const h = this.holdings;
      const t = Date.UTC(
        2000 + (h[12] & 0xff),
        (h[12] >> 8) - 1,
        h[13] & 0xff,
        h[13] >> 8,
        h[14] & 0xff,
        h[14] >> 8,
      );
      if (Number.isFinite(t)) this.clockOffsetMs = t - this.localMs(this.clock());
    }
    this.log.debug("holding written", { register: reg, value });
  }

  // ------------------------------------------------------------------------------------------------
  // register file + physics

  /** Local wall time as if it were UTC (the inverter has no time zone). */
  private localMs(d: Date): number {
    return d.getTime() - d.getTimezoneOffset() * 60_000;
  }

  private initRegisters(): void {
    const h = this.holdings;
    h[0] = 0x0c8c; // model bits
    h[1] = 0x0102;
    asciiToRegs(this.serial, h, 2);
    asciiToRegs("FAAB", h, 7);
    h[9] = 0x0a1f; // slave / comm versions
    h[10] = 0x0e1d; // control / fw versions
    h[15] = 1; // COM address
    h[16] = 0; // language English
    h[19] = 0; // device type
    h[20] = 3; // PV input mode
    h[21] = 62292; // 0xF354: eps, drms, anti-island, gridon ss, seamless, standby=on(9), iso, gfci, dci, feed-in
    h[22] = 1400; // start PV volt 140.0 V
    h[23] = 60;
    h[24] = 60;
    h[25] = 1960; // grid volt connect low 196.0 V
    h[26] = 2530;
    h[27] = 4750; // 47.50 Hz
    h[28] = 5150;
    h[60] = 100; // active power %
    h[62] = 1000; // PF 1.000
    h[63] = 600;
    h[64] = 100; // charge rate %
    h[65] = 100; // discharge rate %
    h[66] = 100; // AC charge rate %
    h[67] = 100; // AC charge SOC limit %
    h[68] = 0x1e17; // AC charge slot 1: 23:30
    h[69] = 0x1e05; // 05:30
    h[74] = 100;
    h[75] = 100;
    h[82] = 100;
    h[83] = 10;
    h[90] = 230;
    h[91] = 50;
    h[99] = 540;
    h[100] = 470;
    h[101] = 100;
    h[102] = 100;
    h[103] = 0;
    h[105] = 10; // discharge cut-off SOC
    h[110] = 0;
    h[125] = 10;
    h[144] = 540;
    h[145] = 0;
    h[147] = 200; // battery capacity Ah
    h[148] = 512; // nominal 51.2 V
    h[158] = 440;
    h[159] = 580;
    h[160] = 30;
    h[161] = 100;
    h[162] = 460;
    h[163] = 480;
    h[164] = 10;
    h[165] = 20;
    h[168] = 100;
    h[169] = 460;
    h[176] = 11500;
    h[177] = 8000;

    const i = this.inputs;
    asciiToRegs(this.serial, i, 115);
    i[80] = 17; // battery type/brand
    i[81] = 6600; // max charge current 66.00 A
    i[82] = 6600;
    i[83] = 535; // charge volt ref 53.5
    i[84] = 400; // discharge cut volt 40.0
    i[90] = 192; // bat_status_5
    i[95] = 3; // bat_status_inv
    i[96] = 1; // battery count
    i[97] = 200; // capacity Ah
    i[105] = 2; // BMS fw ok
    i[106] = 123; // cycles
    i[113] = 0x0101;
    i[120] = 3650;
    i[127] = 2300;

    this.socWh = this.capacityWh * 0.65;
    this.acc = {
      pv1Day: 0,
      pv2Day: 0,
      pv3Day: 0,
      invDay: 0,
      recDay: 0,
      chgDay: 0,
      dischgDay: 0,
      epsDay: 0,
      toGridDay: 0,
      toUserDay: 0,
      pv1All: 4215.8e3,
      pv2All: 1834.2e3,
      pv3All: 0,
      invAll: 4965.0e3,
      recAll: 5947.1e3,
      chgAll: 6369.4e3,
      dischgAll: 6039.3e3,
      epsAll: 0,
      toGridAll: 1005.8e3,
      toUserAll: 10157.0e3,
    };
    this.lastTick = this.clock().getTime();
    this.update(0);
  }

  private tick(): void {
    const now = this.clock().getTime();
    const dt = Math.max(0, Math.min(3600, (now - this.lastTick) / 1000));
    this.lastTick = now;
    this.update(dt);
  }

  /** Advance the physics by dt seconds and refresh every derived register. */
  private update(dt: number): void {
    const h = this.holdings, inp = this.inputs;
    const now = this.clock();
    const local = new Date(this.localMs(now) + this.clockOffsetMs);
    // day rollover resets the daily counters
    const dayNo = Math.floor(local.getTime() / 86_400_000);
    if (this.day !== -1 && dayNo !== this.day) {
      for (const k of Object.keys(this.acc)) if (k.endsWith("Day")) this.acc[k] = 0;
    }
    this.day = dayNo;
    const hour = local.getUTCHours() + local.getUTCMinutes() / 60 + local.getUTCSeconds() / 3600;

    // PV: half-sine between 06:00 and 18:00, peak 4.2 kW, split over two strings
    const sun = hour > 6 && hour < 18 ? Math.sin((Math.PI * (hour - 6)) / 12) : 0;
    const wobble = 0.9 + 0.1 * Math.sin(local.getTime() / 97_000);
    const pv = Math.round(4200 * sun * wobble);
    const pv1 = Math.round(pv * 0.6), pv2 = pv - pv1;
    // Household load wanders between ~250 and ~1200 W
    this.loadW = Math.max(250, Math.min(1200, this.loadW + (Math.sin(local.getTime() / 13_000) * 40)));
    const load = Math.round(this.loadW);

    const soc = (this.socWh / this.capacityWh) * 100;
    const bits = h[REG.funcEn];
    const acCharge = (bits & (1 << BIT.acCharge)) !== 0;
    const forcedDischarge = (bits & (1 << BIT.forcedDischarge)) !== 0;
    const chargePriority = (bits & (1 << BIT.chargePriority)) !== 0;
    const maxChg = 5000 * Math.min(100, h[REG.chargePct]) / 100;
    const maxDis = 5000 * Math.min(100, h[REG.dischargePct]) / 100;
    const acRate = 5000 * Math.min(100, h[REG.acChargePct]) / 100;
    const acLimit = Math.min(100, h[REG.acChargeSocLimit]);
    const cutoff = Math.max(0, Math.min(100, h[105] || 10));

    let charge = 0, discharge = 0, rec = 0;
    let status = 0x00;
    const surplus = pv - load;
    if (forcedDischarge && maxDis > 0 && soc > Math.max(cutoff, h[83] || 0)) {
      discharge = maxDis;
      status = pv > 0 ? 0x14 : 0x10;
    } else if (acCharge && soc < acLimit && acRate > 0) {
      charge = Math.min(acRate, maxChg > 0 ? Math.max(maxChg, acRate) : acRate);
      rec = Math.max(0, charge - Math.max(0, surplus));
      status = pv > 0 ? 0x28 : 0x20;
    } else if (surplus > 0) {
      if (soc < 100 && maxChg > 0) charge = Math.min(chargePriority ? pv : surplus, maxChg);
      status = charge > 0 ? (surplus > charge ? 0x0c : 0x08) : 0x04;
    } else if (surplus < 0) {
      if (soc > cutoff && maxDis > 0) discharge = Math.min(-surplus, maxDis);
      status = discharge > 0 ? (pv > 0 ? 0x14 : 0x10) : (pv > 0 ? 0x04 : 0x00);
    }
    charge = Math.round(charge);
    discharge = Math.round(discharge);
    rec = Math.round(rec);
    // Energy balance at the AC bus: pv + discharge + import = load + charge + export
    const net = pv + discharge - load - charge + rec;
    const toGrid = Math.max(0, net);
    const toUser = Math.max(0, -net) + rec;
    const pInv = Math.max(0, Math.min(load + toGrid, pv + discharge - (charge - rec)));

    // integrate
    const eff = 0.95;
    this.socWh += (charge * eff - discharge / eff) * dt / 3600;
    this.socWh = Math.max(0, Math.min(this.capacityWh, this.socWh));
    const add = (k: string, w: number) => {
      this.acc[k + "Day"] += (w * dt) / 3600;
      this.acc[k + "All"] += (w * dt) / 3600;
    };
    add("pv1", pv1);
    add("pv2", pv2);
    add("inv", pInv);
    add("rec", rec);
    add("chg", charge);
    add("dischg", discharge);
    add("toGrid", toGrid);
    add("toUser", toUser);
    this.runtimeS += dt;

    const socNow = Math.round((this.socWh / this.capacityWh) * 100);
    const vBat = 480 + Math.round(socNow * 0.6) + (charge > 0 ? 6 : 0) - (discharge > 0 ? 5 : 0); // 0.1 V
    const vAc = 2341 + Math.round(Math.sin(local.getTime() / 31_000) * 15);
    const fAc = 5000 + Math.round(Math.sin(local.getTime() / 17_000) * 4);
    const batPower = charge - discharge;
    const t = (w: number) => Math.round(w);

    inp[0] = status;
    inp[1] = pv1 > 0 ? 3100 + (pv1 % 200) : 0;
    inp[2] = pv2 > 0 ? 2950 + (pv2 % 200) : 0;
    inp[3] = 0;
    inp[4] = vBat;
    inp[5] = (socNow & 0xff) | (98 << 8); // SOC low byte, SOH high byte
    inp[6] = 0;
    inp[7] = pv1;
    inp[8] = pv2;
    inp[9] = 0;
    inp[10] = charge;
    inp[11] = discharge;
    inp[12] = vAc;
    inp[13] = 0;
    inp[14] = 0;
    inp[15] = fAc;
    inp[16] = t(pInv);
    inp[17] = rec;
    inp[18] = Math.round((pInv / (vAc / 10)) * 100);
    inp[19] = 1000;
    inp[20] = vAc;
    inp[21] = 0;
    inp[22] = 0;
    inp[23] = fAc;
    inp[24] = 0;
    inp[25] = 0;
    inp[26] = t(toGrid);
    inp[27] = t(toUser);
    const d10 = (wh: number) => Math.min(0xffff, Math.floor(wh / 100)); // 0.1 kWh
    inp[28] = d10(this.acc.pv1Day);
    inp[29] = d10(this.acc.pv2Day);
    inp[30] = d10(this.acc.pv3Day);
    inp[31] = d10(this.acc.invDay);
    inp[32] = d10(this.acc.recDay);
    inp[33] = d10(this.acc.chgDay);
    inp[34] = d10(this.acc.dischgDay);
    inp[35] = d10(this.acc.epsDay);
    inp[36] = d10(this.acc.toGridDay);
    inp[37] = d10(this.acc.toUserDay);
    inp[38] = 3650 + (batPower % 7);
    inp[39] = 3201;
    const put32 = (reg: number, wh: number) => {
      const v = Math.floor(wh / 100) >>> 0;
      inp[reg] = v & 0xffff;
      inp[reg + 1] = v >>> 16;
    };
    put32(40, this.acc.pv1All);
    put32(42, this.acc.pv2All);
    put32(44, this.acc.pv3All);
    put32(46, this.acc.invAll);
    put32(48, this.acc.recAll);
    put32(50, this.acc.chgAll);
    put32(52, this.acc.dischgAll);
    put32(54, this.acc.epsAll);
    put32(56, this.acc.toGridAll);
    put32(58, this.acc.toUserAll);
    inp[60] =
      inp[61] =
      inp[62] =
      inp[63] =
        0; // fault/warning
    const heat = (pv + charge + discharge) / 400;
    inp[64] = Math.round(28 + heat);
    inp[65] = Math.round(26 + heat * 0.8);
    inp[66] = Math.round(26 + heat * 0.7);
    inp[67] = 0;
    const rt = Math.floor(this.runtimeS) >>> 0;
    inp[69] = rt & 0xffff;
    inp[70] = rt >>> 16;
    inp[98] = Math.round((batPower / (vBat / 10)) * 100) & 0xffff; // signed 0.01 A
    inp[101] = 3300 + Math.round(socNow * 0.9); // mV
    inp[102] = inp[101] - 15;
    inp[103] = Math.round(210 + heat * 5); // 0.1 °C
    inp[104] = inp[103] - 20;
    inp[107] = vBat - 1;
    for (let k = 108; k <= 112; k++) inp[k] = inp[103] - (k - 108) * 3;
    inp[121] = 0;
    inp[127] = vAc;
    inp[129] = 0;

    this.refreshClock();
  }

  /** The inverter clock in 12–14 (year-2000/month, day/hour, minute/second): sim clock + set offset. */
  private refreshClock(): void {
    const h = this.holdings;
    const local = new Date(this.localMs(this.clock()) + this.clockOffsetMs);
    h[12] = ((local.getUTCFullYear() - 2000) & 0xff) | ((local.getUTCMonth() + 1) << 8);
    h[13] = local.getUTCDate() | (local.getUTCHours() << 8);
    h[14] = local.getUTCMinutes() | (local.getUTCSeconds() << 8);
  }
}
