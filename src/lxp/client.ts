// The TCP link to one LuxPower dongle: persistent connection with reconnect + backoff, silence
// watchdog, optional heartbeat echo, and a one-at-a-time request queue whose replies are matched on
// (datalog, function & 0x7f, start register). Every packet received is also handed to onPacket
// listeners (broadcasts, replies to other clients and our own replies alike).
//
// Guarantees:
// - reads may be retried (`retries` extra attempts after a timeout); writes are sent at most once;
// - updateBit is one queue job (read 1 → compute → write → verify echo), so no other request of this
//   client can slip in between the read and the write;
// - writes can be verified (`verify.until`): when the echo is lost, garbled, or possibly a late echo of an
//   earlier write, the register is read back (bounded retries until `until`, reconnecting if needed):
//   holding the written value counts as success ("confirmed by read-back"), anything else fails. Still
//   never a second write. Read-backs use a read window no overdue request has, so a late reply to an
//   earlier request cannot pass for the answer;
// - a frame the dongle cut short is given up after `frameGapMs` without new bytes (FrameSplitter.expire);
// - when the link drops, the request in flight and every queued request reject promptly with
//   LxpError "disconnected"; requests made while the link is down reject at once;
// - nothing throws out of the connect/read loop: errors are logged and counted.

import type { Logger } from "../log.ts";
import {
  encodePacket,
  exceptionText,
  FN_READ_HOLD,
  FN_READ_INPUT,
  FN_WRITE_MULTI,
  FN_WRITE_SINGLE,
  FrameSplitter,
  FUNCTION_NAMES,
  type Packet,
  readRequest,
  type TranslatedData,
  writeSingleRequest,
} from "./frame.ts";

export interface LxpClientOptions {
  host: string;
  port: number;
  datalog: string;
  serial: string;
  /** Connect timeout per attempt (default 5000). */
  connectTimeoutMs?: number;
  /** Per attempt (default 5000). */
  requestTimeoutMs?: number;
  /** Extra attempts for READS only (default 1); writes are sent at most once. */
  retries?: number;
  /** Reconnect when nothing arrives for this long (default 900000). */
  silenceTimeoutMs?: number;
  /** Reconnect backoff: starts at min, doubles after each failed attempt, capped at max (500 → 30000). */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** Echo dongle heartbeats (default false). */
  heartbeatEcho?: boolean;
  /** Protocol field of the requests we send (default: frame.ts default). */
  requestProtocol?: number;
  /** An incomplete frame is dropped when no byte arrived for this long (default 1000). */
  frameGapMs?: number;
}

/** Read the register back until `until` (a Date.now() time) when a write's echo does not confirm it. */
export interface WriteVerify {
  until: number;
}

import { LxpError } from "./errors.ts";
export { LxpError, type LxpErrorKind } from "./errors.ts";

export interface LxpClientStats {
  framesIn: number;
  framesOut: number;
  droppedBytes: number;
  badFrames: number;
  truncatedFrames: number;
  reconnects: number;
  /** Writes whose echo did not confirm them, confirmed by reading the register back. */
  readBackConfirmed: number;
}

interface Pending {
  match: (p: TranslatedData) => boolean;
  resolve: (p: TranslatedData) => void;
  reject: (e: Error) => void;
}

interface QueuedJob {
  run: () => Promise<unknown>;
  resolve: (v: any) => void;
  reject: (e: Error) => void;
}

export class LxpClient {
  readonly stats: LxpClientStats = {
    framesIn: 0,
    framesOut: 0,
    droppedBytes: 0,
    badFrames: 0,
    truncatedFrames: 0,
    reconnects: 0,
    readBackConfirmed: 0,
  };

  private readonly opts: Required<Omit<LxpClientOptions, "requestProtocol">> & { requestProtocol?: number };
  private readonly log: Logger;
  private conn: Deno.TcpConn | null = null;
  private stopped = true;
  private loop: Promise<void> | null = null;
  private abort: AbortController | null = null;
  private sleepTimer: ReturnType<typeof setTimeout> | undefined;
  private sleepWake: (() => void) | null = null;
  private watchdog: ReturnType<typeof setTimeout> | undefined;
  private lastConnectError = "";
  private connectAttempts = 0;

  private packetListeners = new Set<(p: Packet) => void>();
  private linkListeners = new Set<(up: boolean) => void>();
  private attemptListeners = new Set<(error: string | null) => void>();
  private wireListeners = new Set<(direction: "in" | "out", bytes: Uint8Array) => void>();

  private queue: QueuedJob[] = [];
  private running = false;
  private pending: Pending | null = null;
  private writeChain: Promise<void> = Promise.resolve();
  private warned = new Set<string>();

  constructor(options: LxpClientOptions, logger: Logger) {
    this.opts = {
      connectTimeoutMs: 5000,
      requestTimeoutMs: 5000,
      retries: 1,
      silenceTimeoutMs: 900_000,
      reconnectMinMs: 500,
      reconnectMaxMs: 30_000,
      heartbeatEcho: false,
      frameGapMs: 1000,
      ...options,
    };
    this.log = logger.child({ component: "lxp", datalog: options.datalog });
  }

  get connected(): boolean {
    return this.conn !== null;
  }

  /** Starts the connect loop (connect, read until the link drops, back off, reconnect). Never throws. */
  start(signal?: AbortSignal): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.abort = new AbortController();
    if (signal) {
      if (signal.aborted) {
        this.stopped = true;
        return;
      }
      signal.addEventListener("abort", () => void this.stop(), { once: true });
    }
    this.loop = this.runLoop().catch((e) => {
      this.log.error("lxp connect loop crashed", { error: e });
    });
  }

  async stop(): Promise<void> {
    if (this.stopped && !this.loop) return;
    this.stopped = true;
    this.abort?.abort();
    this.wakeSleep();
    this.closeConn();
    this.failAll(new LxpError("disconnected", "LXP client stopped"));
    const loop = this.loop;
    this.loop = null;
    if (loop) await loop;
    await this.writeChain.catch(() => {});
  }

  /**
   * Resolves once the link is up. Rejects with LxpError "unreachable" after timeoutMs, or (with
   * failFast) as soon as one connect attempt fails.
   */
  waitConnected(timeoutMs: number, failFast = false): Promise<void> {
    if (this.connected) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      let offLink = () => {};
      let offAttempt = () => {};
      const done = (err?: Error) => {
        clearTimeout(timer);
        offLink();
        offAttempt();
        if (err) reject(err);
        else resolve();
      };
      const unreachable = (why: string) =>
        new LxpError("unreachable", `cannot connect to ${this.opts.host}:${this.opts.port}: ${why}`);
      const timer = setTimeout(
        () => done(unreachable(this.lastConnectError || `no connection within ${timeoutMs} ms`)),
        timeoutMs,
      );
      offLink = this.onLink((up) => {
        if (up) done();
      });
      offAttempt = this.onAttempt((error) => {
        // A successful attempt is reported before the connection is in place: wait for onLink(true).
        if (error !== null && (failFast || this.stopped)) done(unreachable(error));
      });
    });
  }

  onPacket(listener: (p: Packet) => void): () => void {
    this.packetListeners.add(listener);
    return () => this.packetListeners.delete(listener);
  }

  onLink(listener: (up: boolean) => void): () => void {
    this.linkListeners.add(listener);
    return () => this.linkListeners.delete(listener);
  }

  /** Extension: called after every connect attempt with null (connected) or the error text. */
  onAttempt(listener: (error: string | null) => void): () => void {
    this.attemptListeners.add(listener);
    return () => this.attemptListeners.delete(listener);
  }

  readHold(register: number, count = 1): Promise<number[]> {
    return this.enqueue(() => this.read(FN_READ_HOLD, register, count));
  }

  readInput(register: number, count = 1): Promise<number[]> {
    return this.enqueue(() => this.read(FN_READ_INPUT, register, count));
  }

  /** Writes one holding register; with `verify`, an unconfirmed echo is checked by reading it back. */
  writeHold(register: number, value: number, verify?: WriteVerify): Promise<number> {
    return this.enqueue(() => this.write(register, value, verify));
  }

  /** Read-modify-write of one bit (one queue job); `verify` as for writeHold. */
  updateBit(register: number, bit: number, on: boolean, verify?: WriteVerify): Promise<number> {
    return this.enqueue(async () => {
      checkBit(bit);
      const old = await this.readOneFresh(register);
      const mask = 1 << bit;
      const next = on ? (old | mask) & 0xffff : old & ~mask & 0xffff;
      this.log.debug("update bit", { register, bit, on, old, next });
      return await this.write(register, next, verify);
    });
  }

  /**
   * Write-multi (0x10) of consecutive holding registers (the dongle takes it for the clock, 12–14); resolves
   * when the inverter confirms the register count. Sent at most once, like every write.
   */
  writeMulti(register: number, values: number[]): Promise<void> {
    return this.enqueue(async () => {
      checkRange(register, values.length);
      const req: TranslatedData = {
        kind: "translated",
        protocol: this.opts.requestProtocol ?? 2,
        datalog: this.opts.datalog,
        address: 0,
        fn: FN_WRITE_MULTI,
        serial: this.opts.serial,
        register,
        values,
      };
      const reply = await this.exchange(
        encodePacket(req),
        (p) => (p.fn & 0x80) !== 0 || (p.count !== undefined && p.values === undefined),
        FN_WRITE_MULTI,
        register,
      );
      if (reply.count !== values.length) {
        throw new LxpError(
          "mismatch",
          `write multi ${register}: wrote ${values.length} registers, inverter confirmed ${reply.count}`,
        );
      }
    });
  }

  /**
   * Every frame on the wire, as bytes: "out" for each frame we send, "in" for each chunk read from the
   * socket (the capture tool cuts them into frames). For field captures; listeners must not throw.
   */
  onWire(listener: (direction: "in" | "out", bytes: Uint8Array) => void): () => void {
    this.wireListeners.add(listener);
    return () => this.wireListeners.delete(listener);
  }

  /** Sends any packet outside the request queue (e.g. a ReadParam); resolves when written. */
  async sendRaw(p: Packet): Promise<void> {
    const conn = this.conn;
    if (!conn) throw new LxpError("disconnected", this.notConnectedText());
    await this.send(conn, encodePacket(p));
  }

  // ---------------------------------------------------------------------------------------------
  // queue

  private enqueue<T>(run: () => Promise<T>): Promise<T> {
    if (this.stopped) return Promise.reject(new LxpError("disconnected", "LXP client is not started"));
    if (!this.conn) return Promise.reject(new LxpError("disconnected", this.notConnectedText()));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    if (this.running) return;
    const job = this.queue.shift();
    if (!job) return;
    this.running = true;
    job.run().then(job.resolve, job.reject).finally(() => {
      this.running = false;
      this.pump();
    });
  }

  private failAll(err: LxpError): void {
    const p = this.pending;
    this.pending = null;
    p?.reject(err);
    const queued = this.queue.splice(0);
    for (const j of queued) j.reject(err);
  }

  private notConnectedText(): string {
    const why = this.lastConnectError ? ` (${this.lastConnectError})` : "";
    return `not connected to dongle ${this.opts.host}:${this.opts.port}${why}`;
  }

  // ---------------------------------------------------------------------------------------------
  // requests (run inside queue jobs)

  private async read(fn: 3 | 4, register: number, count: number): Promise<number[]> {
    checkRange(register, count);
    const req = readRequest({
      datalog: this.opts.datalog,
      serial: this.opts.serial,
      fn,
      register,
      count,
      ...(this.opts.requestProtocol ? { protocol: this.opts.requestProtocol } : {}),
    });
    const bytes = encodePacket(req);
    const attempts = 1 + Math.max(0, this.opts.retries);
    for (let attempt = 1;; attempt++) {
      try {
        const reply = await this.exchange(
          bytes,
          (p) => p.fn & 0x80 ? true : Array.isArray(p.values) && p.values.length >= count,
          fn,
          register,
          this.opts.requestTimeoutMs,
          count,
        );
        return reply.values!.slice(0, count);
      } catch (e) {
        if (e instanceof LxpError && e.kind === "timeout" && attempt < attempts && this.conn) {
          this.log.warn("no reply, retrying", { fn: FUNCTION_NAMES[fn], register, count, attempt });
          continue;
        }
        throw e;
      }
    }
  }

  private async write(register: number, value: number, verify?: WriteVerify): Promise<number> {
    checkRange(register, 1);
    if (!Number.isInteger(value) || value < 0 || value > 0xffff) {
      throw new RangeError(`value ${value} is not an integer 0..65535`);
    }
    const req = writeSingleRequest({
      datalog: this.opts.datalog,
      serial: this.opts.serial,
      register,
      value,
      ...(this.opts.requestProtocol ? { protocol: this.opts.requestProtocol } : {}),
    });
    // An overdue echo of an earlier write to this register could pass for ours.
    const untrusted = this.isOverdue(staleKey(FN_WRITE_SINGLE, register));
    let why: string;
    let failure: LxpError;
    try {
      const reply = await this.exchange(
        encodePacket(req),
        (p) => (p.fn & 0x80) !== 0 || p.value !== undefined,
        FN_WRITE_SINGLE,
        register,
      );
      const echo = reply.value!;
      if (echo === value && (!untrusted || !verify)) return echo;
      why = echo === value ? "echo possibly a late one of an earlier write" : `inverter echoed ${echo}`;
      failure = new LxpError("mismatch", `write hold ${register}: wrote ${value}, ${why}`);
    } catch (e) {
      if (!(e instanceof LxpError) || e.kind === "exception") throw e;
      why = e.kind === "timeout" ? "no echo in time" : `no echo (${e.message})`;
      failure = e;
    }
    if (!verify) throw failure;
    const read = await this.readBack(register, verify.until);
    if (read.value === value) {
      this.stats.readBackConfirmed++;
      this.log.info("write confirmed by read-back", { register, value, echo: why });
      return value;
    }
    if (read.value === undefined) {
      throw new LxpError(
        failure.kind,
        `${failure.message}; read-back got no answer (${read.error || "no time left"})`,
      );
    }
    throw new LxpError("mismatch", `write hold ${register}: wrote ${value}, ${why}; read back ${read.value}`);
  }

  /**
   * Reads one holding register with a request whose reply cannot be confused with a late reply to an
   * earlier request (a window that no overdue request has). `attempts` tries, as for reads.
   */
  private async readOneFresh(register: number): Promise<number> {
    const attempts = 1 + Math.max(0, this.opts.retries);
    for (let attempt = 1;; attempt++) {
      try {
        return await this.readFresh(register, this.opts.requestTimeoutMs);
      } catch (e) {
        if (e instanceof LxpError && e.kind === "timeout" && attempt < attempts && this.conn) {
          this.log.warn("no reply, retrying", { fn: FUNCTION_NAMES[FN_READ_HOLD], register, attempt });
          continue;
        }
        throw e;
      }
    }
  }

  private async readFresh(register: number, timeoutMs: number): Promise<number> {
    checkRange(register, 1);
    let start = -1, count = 0;
    for (let c = 1; c <= READ_BACK_WINDOWS; c++) {
      const s = Math.max(0, register - (c - 1));
      if (!this.isOverdue(staleKey(FN_READ_HOLD, s, c))) {
        start = s;
        count = c;
        break;
      }
    }
    if (start < 0) {
      throw new LxpError("timeout", `read hold ${register}: every read window has an overdue reply`);
    }
    const req = readRequest({
      datalog: this.opts.datalog,
      serial: this.opts.serial,
      fn: FN_READ_HOLD,
      register: start,
      count,
      ...(this.opts.requestProtocol ? { protocol: this.opts.requestProtocol } : {}),
    });
    const reply = await this.exchange(
      encodePacket(req),
      (p) => (p.fn & 0x80) !== 0 || p.values?.length === count,
      FN_READ_HOLD,
      start,
      timeoutMs,
      count,
    );
    return reply.values![register - start];
  }

  /** Bounded read-back after an unconfirmed write: retries (reconnecting if needed) until `until`. */
  private async readBack(register: number, until: number): Promise<{ value?: number; error: string }> {
    let error = "";
    for (;;) {
      const left = until - Date.now();
      if (left <= 0 || this.stopped) return { error };
      if (!this.conn) {
        if (!(await this.waitLink(left))) return { error: error || "link to the dongle down" };
        continue;
      }
      const t0 = Date.now();
      try {
        return { value: await this.readFresh(register, Math.min(this.opts.requestTimeoutMs, left)), error };
      } catch (e) {
        error = errText(e);
        if (e instanceof LxpError && e.kind === "exception") return { error };
        // failed at once (send error, no usable read window): pause instead of spinning
        if (Date.now() - t0 < 20) await this.pause(Math.min(100, left));
      }
    }
  }

  /** Waits `ms` (less when the client stops). */
  private pause(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const signal = this.abort?.signal;
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener("abort", done, { once: true });
    });
  }

  /** Resolves true once the link is up, false after `ms` or when the client stops. */
  private waitLink(ms: number): Promise<boolean> {
    if (this.conn) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const signal = this.abort?.signal;
      let off = () => {};
      const done = (v: boolean) => {
        clearTimeout(timer);
        off();
        signal?.removeEventListener("abort", onAbort);
        resolve(v);
      };
      const onAbort = () => done(false);
      const timer = setTimeout(() => done(!!this.conn), ms);
      off = this.onLink((up) => {
        if (up) done(true);
      });
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  // Requests that timed out and whose reply may still arrive ("overdue"), by staleKey, with the time
  // until which a late reply is still expected. Cleared when the link drops.
  private overdue = new Map<string, number[]>();

  private isOverdue(key: string): boolean {
    const list = this.overdue.get(key);
    if (!list) return false;
    const now = Date.now();
    const live = list.filter((t) => t > now);
    if (live.length) this.overdue.set(key, live);
    else this.overdue.delete(key);
    return live.length > 0;
  }

  private markOverdue(key: string): void {
    const until = Date.now() + OVERDUE_FACTOR * this.opts.requestTimeoutMs;
    const list = this.overdue.get(key);
    if (list) list.push(until);
    else this.overdue.set(key, [until]);
  }

  /** A reply nothing was waiting for: if a request of its key is overdue, this was its late reply. */
  private settleOverdue(p: TranslatedData): void {
    if (this.overdue.size === 0) return;
    const fn = p.fn & 0x7f;
    const key = fn === FN_READ_HOLD || fn === FN_READ_INPUT
      ? staleKey(fn, p.register, p.values?.length ?? 0)
      : staleKey(fn, p.register);
    const list = this.overdue.get(key);
    if (!list) return;
    list.shift();
    if (list.length === 0) this.overdue.delete(key);
  }

  /** Sends one request and waits for the matching reply (or rejects: timeout/disconnected/exception). */
  private exchange(
    bytes: Uint8Array,
    accept: (p: TranslatedData) => boolean,
    fn: number,
    register: number,
    timeoutMs = this.opts.requestTimeoutMs,
    count?: number,
  ): Promise<TranslatedData> {
    const conn = this.conn;
    if (!conn) return Promise.reject(new LxpError("disconnected", this.notConnectedText()));
    return new Promise<TranslatedData>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.pending === pending) this.pending = null;
        if (this.conn === conn) this.markOverdue(staleKey(fn, register, count));
        reject(
          new LxpError(
            "timeout",
            `${FUNCTION_NAMES[fn] ?? `fn ${fn}`} ${register}: no reply within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      const pending: Pending = {
        match: (p) =>
          p.datalog === this.opts.datalog && (p.fn & 0x7f) === fn && p.register === register &&
          (p.address !== 0 || (p.fn & 0x80) !== 0) && accept(p),
        resolve: (p) => {
          clearTimeout(timer);
          if (p.fn & 0x80) {
            const code = p.exceptionCode ?? 0;
            reject(
              new LxpError(
                "exception",
                `${FUNCTION_NAMES[fn] ?? `fn ${fn}`} ${register}: inverter answered ${exceptionText(code)}`,
                code,
              ),
            );
          } else resolve(p);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.pending = pending;
      this.send(conn, bytes).catch((e) => {
        if (this.pending === pending) this.pending = null;
        pending.reject(new LxpError("disconnected", `send failed: ${errText(e)}`));
      });
    });
  }

  private send(conn: Deno.TcpConn, bytes: Uint8Array): Promise<void> {
    const next = this.writeChain.then(async () => {
      let off = 0;
      while (off < bytes.length) off += await conn.write(bytes.subarray(off));
      this.stats.framesOut++;
      this.emitWire("out", bytes);
    });
    this.writeChain = next.catch(() => {});
    return next;
  }

  // ---------------------------------------------------------------------------------------------
  // connection loop

  private async runLoop(): Promise<void> {
    let backoff = this.opts.reconnectMinMs;
    let first = true;
    while (!this.stopped) {
      if (!first) this.stats.reconnects++;
      first = false;
      const conn = await this.connectOnce();
      if (this.stopped) {
        try {
          conn?.close();
        } catch { /* already closed */ }
        break;
      }
      if (conn) {
        backoff = this.opts.reconnectMinMs;
        await this.serve(conn);
        if (this.stopped) break;
      }
      const wait = backoff;
      backoff = Math.min(this.opts.reconnectMaxMs, backoff * 2);
      this.log.debug("reconnecting", { in_ms: wait });
      await this.sleep(wait);
    }
  }

  private async connectOnce(): Promise<Deno.TcpConn | null> {
    this.connectAttempts++;
    const ac = new AbortController();
    const onStop = () => ac.abort();
    this.abort?.signal.addEventListener("abort", onStop, { once: true });
    const timer = setTimeout(() => ac.abort(), this.opts.connectTimeoutMs);
    try {
      const conn = await Deno.connect({ hostname: this.opts.host, port: this.opts.port, signal: ac.signal });
      try {
        conn.setNoDelay(true);
        conn.setKeepAlive(true);
      } catch { /* not fatal */ }
      this.lastConnectError = "";
      this.log.info("connected to dongle", { host: this.opts.host, port: this.opts.port });
      this.emitAttempt(null);
      return conn;
    } catch (e) {
      const text = ac.signal.aborted && !this.stopped
        ? `connect timed out after ${this.opts.connectTimeoutMs} ms`
        : errText(e);
      this.lastConnectError = text;
      if (!this.stopped) {
        (this.connectAttempts <= 1 ? this.log.warn : this.log.debug).call(
          this.log,
          "cannot connect to dongle",
          {
            host: this.opts.host,
            port: this.opts.port,
            error: text,
          },
        );
      }
      this.emitAttempt(text);
      return null;
    } finally {
      clearTimeout(timer);
      this.abort?.signal.removeEventListener("abort", onStop);
    }
  }

  /** Reads from one connection until it ends; then fails pending work and reports the link down. */
  private async serve(conn: Deno.TcpConn): Promise<void> {
    this.conn = conn;
    const splitter = new FrameSplitter();
    let dropped = 0, bad = 0, truncated = 0;
    let gapTimer: ReturnType<typeof setTimeout> | undefined;
    const account = (packets: Packet[]) => {
      this.stats.droppedBytes += splitter.droppedBytes - dropped;
      this.stats.badFrames += splitter.badFrames - bad;
      this.stats.truncatedFrames += splitter.truncatedFrames - truncated;
      if (splitter.badFrames > bad) {
        this.log.debug("bad frame(s) received", { total: this.stats.badFrames });
      }
      if (splitter.truncatedFrames > truncated) {
        this.log.debug("truncated frame(s) dropped", { total: this.stats.truncatedFrames });
      }
      dropped = splitter.droppedBytes;
      bad = splitter.badFrames;
      truncated = splitter.truncatedFrames;
      for (const p of packets) this.handlePacket(conn, p);
      clearTimeout(gapTimer);
      gapTimer = undefined;
      if (splitter.buffered > 0 && this.conn === conn) {
        // No new byte for a short gap: the frame at the head was cut short.
        gapTimer = setTimeout(() => {
          gapTimer = undefined;
          if (this.conn === conn) account(splitter.expire());
        }, this.opts.frameGapMs);
      }
    };
    this.emitLink(true);
    this.armWatchdog();
    const buf = new Uint8Array(64 * 1024);
    let reason = "connection closed by dongle";
    try {
      while (!this.stopped && this.conn === conn) {
        let n: number | null;
        try {
          n = await conn.read(buf);
        } catch (e) {
          if (this.conn === conn && !this.stopped) reason = `read failed: ${errText(e)}`;
          else if (this.stopped) reason = "client stopped";
          else reason = this.closeReason || "connection closed";
          break;
        }
        if (n === null) break;
        this.armWatchdog();
        if (this.wireListeners.size) this.emitWire("in", buf.slice(0, n));
        let packets: Packet[] = [];
        try {
          packets = splitter.push(buf.slice(0, n));
        } catch (e) {
          this.log.error("frame splitter threw", { error: e });
        }
        account(packets);
      }
    } finally {
      clearTimeout(gapTimer);
      this.overdue.clear();
      clearTimeout(this.watchdog);
      this.watchdog = undefined;
      if (this.conn === conn) this.conn = null;
      try {
        conn.close();
      } catch { /* already closed */ }
      this.closeReason = "";
      if (!this.stopped) this.log.warn("dongle link down", { reason });
      this.failAll(new LxpError("disconnected", `link to dongle lost: ${reason}`));
      this.emitLink(false);
    }
  }

  private closeReason = "";

  private armWatchdog(): void {
    clearTimeout(this.watchdog);
    const ms = this.opts.silenceTimeoutMs;
    if (!(ms > 0)) return;
    this.watchdog = setTimeout(() => {
      this.log.warn("nothing received from dongle, reconnecting", { silence_ms: ms });
      this.closeReason = `nothing received for ${ms} ms`;
      this.closeConn();
    }, ms);
  }

  private closeConn(): void {
    const c = this.conn;
    this.conn = null;
    if (c) {
      try {
        c.close();
      } catch { /* already closed */ }
    }
  }

  private handlePacket(conn: Deno.TcpConn, p: Packet): void {
    this.stats.framesIn++;
    if (p.datalog !== this.opts.datalog) {
      this.warnOnce(`datalog:${p.datalog}`, "frame from another datalog than configured", {
        configured: this.opts.datalog,
        received: p.datalog,
      });
    } else if (p.kind === "translated" && p.serial !== this.opts.serial) {
      this.warnOnce(`serial:${p.serial}`, "frame carries another inverter serial than configured", {
        configured: this.opts.serial,
        received: p.serial,
      });
    }
    for (const l of this.packetListeners) {
      try {
        l(p);
      } catch (e) {
        this.log.error("packet listener threw", { error: e });
      }
    }
    if (p.kind === "translated") {
      const pend = this.pending;
      let hit = false;
      try {
        hit = !!pend && pend.match(p);
      } catch (e) {
        this.log.error("reply matcher threw", { error: e });
      }
      if (hit && pend) {
        this.pending = null;
        pend.resolve(p);
      } else if (p.address !== 0 && p.datalog === this.opts.datalog) this.settleOverdue(p);
    } else if (p.kind === "heartbeat" && this.opts.heartbeatEcho && this.conn === conn) {
      let bytes: Uint8Array;
      try {
        bytes = encodePacket(p);
      } catch (e) {
        this.log.warn("cannot re-encode heartbeat", { error: e });
        return;
      }
      this.send(conn, bytes).catch((e) => this.log.debug("heartbeat echo failed", { error: e }));
    }
  }

  private warnOnce(key: string, msg: string, fields: Record<string, unknown>): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.log.warn(msg, fields);
  }

  private emitLink(up: boolean): void {
    for (const l of [...this.linkListeners]) {
      try {
        l(up);
      } catch (e) {
        this.log.error("link listener threw", { error: e });
      }
    }
  }

  private emitWire(direction: "in" | "out", bytes: Uint8Array): void {
    for (const l of this.wireListeners) {
      try {
        l(direction, bytes);
      } catch (e) {
        this.log.error("wire listener threw", { error: e });
      }
    }
  }

  private emitAttempt(error: string | null): void {
    for (const l of [...this.attemptListeners]) {
      try {
        l(error);
      } catch (e) {
        this.log.error("attempt listener threw", { error: e });
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.sleepWake = () => {
        clearTimeout(this.sleepTimer);
        this.sleepTimer = undefined;
        this.sleepWake = null;
        resolve();
      };
      this.sleepTimer = setTimeout(() => this.sleepWake?.(), ms);
    });
  }

  private wakeSleep(): void {
    this.sleepWake?.();
  }
}

/** Read-back windows: counts 1…8 ending at the register, so a late reply to one cannot pass for another. */
const READ_BACK_WINDOWS = 8;
/** A timed-out request's reply is still expected for this many request timeouts. */
const OVERDUE_FACTOR = 6;

function staleKey(fn: number, register: number, count?: number): string {
  return count === undefined ? `${fn}:${register}` : `${fn}:${register}:${count}`;
}

function checkRange(register: number, count: number): void {
  if (!Number.isInteger(register) || register < 0 || register > 0xffff) {
    throw new RangeError(`register ${register} is not an integer 0..65535`);
  }
  if (!Number.isInteger(count) || count < 1 || count > 127) {
    throw new RangeError(`count ${count} is not an integer 1..127`);
  }
}

function checkBit(bit: number): void {
  if (!Number.isInteger(bit) || bit < 0 || bit > 15) {
    throw new RangeError(`bit ${bit} is not an integer 0..15`);
  }
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
