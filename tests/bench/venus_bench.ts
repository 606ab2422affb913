// Venus bridge benchmark: `sim venus --scale 50` (50 load services × 200 paths = 10,000 items, plus the base
// system) on a private dbus-daemon, a real mosquitto, the bridge in its own process (CPU and RSS read from
// /proc), and a raw-TCP MQTT subscriber in this process that stamps arrival right after each socket read.
//
// Why a raw TCP subscriber: mqtt.js parses through Node streams and emits per message after its own
// buffering; a hand-rolled reader takes the time once per read() (all packets in that chunk share it), so the
// measurement adds no parsing delay in front of the stamp and costs almost no CPU in the measuring process.
//
// CPU is read from /proc over each rate's window (sending + drain). An idle window of the same length with no
// changes is measured first; "net" figures subtract that idle CPU rate × the window's wall time, so they show
// the cost of the changes themselves and "raw" shows what the process really spent.
//
// Run: deno run -A tests/bench/venus_bench.ts [--seconds 20] [--rates 100,1000,5000] [--cpu-prof DIR]
//   [--broker mosquitto|embedded|both] (default both, one after the other: the embedded broker runs in the
//   bridge process as in `serve` without [mqtt] uri, so its CPU and RSS count as the bridge's)
//   --v8-flags F: V8 flags for the bridge worker; default BRIDGE_V8_FLAGS, the flags of deno.json's serve, demo
//   and compile tasks (young generation capped at 2×4 MB semi-spaces: RSS ~147 → ~106 MB at this scale,
//   CPU per change unchanged within noise); --v8-flags "" runs V8's defaults
//   --cpu-prof DIR: a V8 CPU profile of the bridge for the full publish, the idle window and each rate
//   (DIR/venus-bridge-full.cpuprofile, DIR/venus-bridge-idle.cpuprofile, DIR/venus-bridge-<n>-<rate>.cpuprofile; summarise them with
//   tests/bench/cpuprofile_summary.ts). The profiler adds CPU: don't compare figures from such a run.

import { startDbusDaemon } from "../helpers/dbus_daemon.ts";
import { startMosquitto } from "../helpers/mosquitto.ts";
import { cpuSeconds, cpuTimes, rssMb, SwitchCounter, threadCpu, threadDelta } from "./proc_stats.ts";

const PORTAL = "b0be7c000001";
export const BRIDGE_V8_FLAGS = "--max-semi-space-size=4";
const SCALE = 50;
const ITEMS = SCALE * 200;

export interface RateFigures {
  rate: number;
  seconds: number;
  sent: number;
  received: number;
  delivered: number; // fraction
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  lastValuesOk: boolean;
  missingLast: number;
  /** Wall time over which CPU was counted (sending + drain), seconds. */
  windowSeconds: number;
  /** Bridge CPU s per 10,000 changes, raw. */
  cpuSecondsPer10k: number;
  /** Same, minus the idle CPU rate × windowSeconds. */
  netCpuSecondsPer10k: number;
  /** Share of the raw CPU spent in the kernel (stime). */
  sysShare: number;
  /** CPU seconds by bridge thread name over the window. */
  threads: Record<string, number>;
  /** Context switches of the bridge process per change (voluntary + involuntary, all threads). */
  switchesPerChange: number;
}

export type BenchBroker = "mosquitto" | "embedded";

export interface VenusBenchResult {
  broker: BenchBroker;
  /** Share of the 10,000 load topics of the full publish that reached the connected subscriber. */
  fullPublishDelivered: number;
  fullPublishMs: number;
  fullPublishCompletedMs: number;
  fullPublishTopics: number;
  rates: RateFigures[];
  /** Bridge CPU while nothing changes: CPU s per wall s (×100 = % of one core). */
  idleCpuPerSecond: number;
  /** Context switches per second while idle (all threads, also those that exited during the window). */
  idleSwitchesPerSecond: number;
  /** Bridge threads that exited during the idle window (their switches are counted). */
  idleExitedThreads: number;
  rssMb: number;
  peakRssMb: number;
  v8Flags: string;
}

// ------------------------------------------------------------------------------------------------
// Raw MQTT 3.1.1 subscriber

class RawSubscriber {
  private buf = new Uint8Array(0);
  private conn!: Deno.TcpConn;
  private dec = new TextDecoder();
  onPublish: (topic: string, payload: string, arrival: number) => void = () => {};
  private done?: Promise<void>;
  private subAck?: () => void;

  async connect(port: number, filter: string): Promise<void> {
    this.conn = await Deno.connect({ hostname: "127.0.0.1", port });
    this.conn.setNoDelay(true);
    const id = new TextEncoder().encode("venus_bench_sub");
    // CONNECT: protocol "MQTT" level 4, clean session, keepalive 120 s
    const vh = [0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x02, 0, 120, id.length >> 8, id.length & 0xff, ...id];
    await this.conn.write(new Uint8Array([0x10, vh.length, ...vh]));
    const f = new TextEncoder().encode(filter);
    const sub = [0, 1, f.length >> 8, f.length & 0xff, ...f, 0];
    const acked = new Promise<void>((r) => (this.subAck = r));
    this.done = this.readLoop();
    await this.conn.write(new Uint8Array([0x82, ...varint(sub.length), ...sub]));
    await acked;
  }

  private async readLoop(): Promise<void> {
    const chunk = new Uint8Array(1 << 20);
    while (true) {
      let n: number | null;
      try {
        n = await this.conn.read(chunk);
      } catch {
        return;
      }
      if (n === null) return;
      const arrival = performance.timeOrigin + performance.now();
      const merged = new Uint8Array(this.buf.length + n);
      merged.set(this.buf);
      merged.set(chunk.subarray(0, n), this.buf.length);
      let off = 0;
      while (off + 2 <= merged.length) {
        const type = merged[off] >> 4;
        let len = 0, mul = 1, p = off + 1, ok = false;
        while (p < merged.length) {
          const b = merged[p++];
          len += (b & 0x7f) * mul;
          mul *= 128;
          if (!(b & 0x80)) {
            ok = true;
            break;
          }
        }
        if (!ok || p + len > merged.length) break;
        if (type === 3) {
          const qos = (merged[off] >> 1) & 3;
          const tl = (merged[p] << 8) | merged[p + 1];
          const topic = this.dec.decode(merged.subarray(p + 2, p + 2 + tl));
          const start = p + 2 + tl + (qos ? 2 : 0);
          this.onPublish(topic, this.dec.decode(merged.subarray(start, p + len)), arrival);
        } else if (type === 9) this.subAck?.();
        off = p + len;
      }
      this.buf = merged.slice(off);
    }
  }

  async close(): Promise<void> {
    try {
      await this.conn.write(new Uint8Array([0xe0, 0]));
    } catch { /* gone */ }
    try {
      this.conn.close();
    } catch { /* gone */ }
    await this.done;
  }
}

function varint(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

async function publishOnce(port: number, topic: string, payload: string): Promise<void> {
  const c = await Deno.connect({ hostname: "127.0.0.1", port });
  const enc = new TextEncoder();
  const id = enc.encode("venus_bench_pub");
  const vh = [0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x02, 0, 30, 0, id.length, ...id];
  const t = enc.encode(topic), p = enc.encode(payload);
  const body = [t.length >> 8, t.length & 0xff, ...t, ...p];
  await c.write(new Uint8Array([0x10, vh.length, ...vh, 0x30, ...varint(body.length), ...body, 0xe0, 0]));
  await c.read(new Uint8Array(4)); // CONNACK
  c.close();
}

// ------------------------------------------------------------------------------------------------
// Processes

class Worker {
  private lines: string[] = [];
  private waiters: ((l: string) => void)[] = [];
  private writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly pid: number;
  private readDone: Promise<void>;
  constructor(readonly child: Deno.ChildProcess) {
    this.pid = child.pid;
    this.writer = child.stdin.getWriter();
    this.readDone = (async () => {
      let buf = "";
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
        buf += chunk;
        let i;
        while ((i = buf.indexOf("\n")) >= 0) {
          const l = buf.slice(0, i);
          buf = buf.slice(i + 1);
          const w = this.waiters.shift();
          if (w) w(l);
          else this.lines.push(l);
        }
      }
    })();
  }
  static spawn(script: string, args: string[], denoFlags: string[] = []): Worker {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", ...denoFlags, new URL(script, import.meta.url).pathname, ...args],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    return new Worker(child);
  }
  next(timeoutMs = 60_000): Promise<unknown> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(JSON.parse(l));
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error("worker did not answer")), timeoutMs);
      this.waiters.push((x) => {
        clearTimeout(t);
        resolve(JSON.parse(x));
      });
    });
  }
  async send(o: unknown) {
    await this.writer.write(new TextEncoder().encode(JSON.stringify(o) + "\n"));
  }
  async stop() {
    await this.writer.close().catch(() => {});
    const t = setTimeout(() => {
      try {
        this.child.kill("SIGKILL");
      } catch { /* gone */ }
    }, 5000);
    await this.child.status;
    clearTimeout(t);
    await this.readDone.catch(() => {});
  }
}

const pct = (sorted: number[], p: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] : NaN;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runVenusBench(
  o: { seconds?: number; rates?: number[]; cpuProfDir?: string; v8Flags?: string; broker?: BenchBroker } = {},
): Promise<VenusBenchResult> {
  const which = o.broker ?? "mosquitto";
  const seconds = o.seconds ?? 20; // the issue: 20 s at each rate
  const rates = o.rates ?? [100, 1000, 5000];
  const bus = await startDbusDaemon();
  // embedded: the bridge process runs the broker, as `serve` does without [mqtt] uri
  const broker = which === "mosquitto" ? await startMosquitto() : undefined;
  const sim = Worker.spawn("./venus_sim_worker.ts", [bus.address, String(SCALE), PORTAL]);
  let bridge: Worker | undefined;
  const sub = new RawSubscriber();
  try {
    await sim.next();
    bridge = Worker.spawn(
      "./venus_bridge_worker.ts",
      [bus.address, broker?.url ?? "embedded", PORTAL],
      (o.v8Flags ?? BRIDGE_V8_FLAGS) ? [`--v8-flags=${o.v8Flags ?? BRIDGE_V8_FLAGS}`] : [],
    );
    const b = bridge;
    const prof = async (cmd: "prof-start" | "prof-stop", name = "") => {
      if (!o.cpuProfDir) return;
      await b.send({ cmd, file: `${o.cpuProfDir}/venus-bridge-${name}.cpuprofile` });
      await b.next();
    };
    const ready = await bridge.next() as { items: number; port?: number };
    const brokerPort = broker?.port ?? ready.port!;
    if (ready.items < ITEMS) throw new Error(`bridge sees ${ready.items} items, expected ≥ ${ITEMS}`);

    // ---- full publish
    let loadSeen = 0, total = 0, lastLoadAt = 0, completedAt = 0;
    const latest = new Map<string, string>();
    let phase: "full" | "rate" = "full";
    let lat: number[] = [];
    let received = 0;
    const prefix = `N/${PORTAL}/`;
    const seenFull = new Set<string>();
    sub.onPublish = (topic, payload, arrival) => {
      if (phase === "full") {
        total++;
        if (topic.startsWith(prefix + "loadtest/") && !seenFull.has(topic)) {
          seenFull.add(topic);
          if (++loadSeen === ITEMS) lastLoadAt = arrival;
        } else if (topic === prefix + "full_publish_completed") completedAt = arrival;
        return;
      }
      if (!topic.startsWith(prefix + "loadtest/")) return;
      received++;
      latest.set(topic.slice(prefix.length), payload);
      lat.push(arrival - Number(payload.slice(10, -1)));
    };
    await sub.connect(brokerPort, `N/${PORTAL}/#`);
    await sleep(300);
    await prof("prof-start");
    const t0 = performance.timeOrigin + performance.now();
    await publishOnce(brokerPort, `R/${PORTAL}/keepalive`, "");
    // every load topic and the completion marker, or 2 s past the marker (what is missing by then is lost)
    const deadline = Date.now() + 30_000;
    while ((loadSeen < ITEMS || !completedAt) && Date.now() < deadline) {
      if (completedAt && performance.timeOrigin + performance.now() > completedAt + 2000) break;
      await sleep(5);
    }
    const fullPublishMs = loadSeen === ITEMS ? lastLoadAt - t0 : NaN; // NaN: some never arrived
    const fullPublishCompletedMs = completedAt - t0;
    await prof("prof-stop", "full");
    await sleep(500);

    // ---- idle baseline: the same window length, no changes
    phase = "rate";
    await prof("prof-start");
    const idle0 = { cpu: cpuSeconds(bridge.pid), sw: new SwitchCounter(bridge.pid), t: performance.now() };
    await sleep(seconds * 1000);
    const idleWall = (performance.now() - idle0.t) / 1000;
    const idleCpuPerSecond = (cpuSeconds(bridge.pid) - idle0.cpu) / idleWall;
    const idleSw = idle0.sw.stop();
    const idleSwitchesPerSecond = idleSw.switches / idleWall;
    await prof("prof-stop", "idle");

    // ---- rates
    const out: RateFigures[] = [];
    for (const [ri, rate] of rates.entries()) {
      lat = [];
      received = 0;
      latest.clear();
      await prof("prof-start");
      const cpu0 = cpuSeconds(bridge.pid);
      const sys0 = cpuTimes(bridge.pid).sys;
      const sw0 = new SwitchCounter(bridge.pid);
      const th0 = threadCpu(bridge.pid);
      const w0 = performance.now();
      await sim.send({ cmd: "rate", rate, ms: seconds * 1000 });
      const r = await sim.next(seconds * 1000 + 60_000) as { sent: number; last: Record<string, number> };
      // drain: wait until every last value arrived (or 5 s)
      const drainEnd = Date.now() + 5000;
      const missing = () =>
        Object.entries(r.last).filter(([k, v]) => Number(latest.get(k)?.slice(10, -1)) !== v).length;
      while (missing() > 0 && Date.now() < drainEnd) await sleep(20);
      await sleep(200);
      const cpu = cpuSeconds(bridge.pid) - cpu0;
      const sys = cpuTimes(bridge.pid).sys - sys0;
      const sw = sw0.stop().switches;
      const threads = threadDelta(th0, threadCpu(bridge.pid));
      const windowSeconds = (performance.now() - w0) / 1000;
      await prof("prof-stop", `${ri + 1}-${rate}`);
      const sorted = lat.slice().sort((a, b) => a - b);
      const miss = missing();
      out.push({
        rate,
        seconds,
        sent: r.sent,
        received,
        delivered: received / r.sent,
        p50Ms: pct(sorted, 0.5),
        p99Ms: pct(sorted, 0.99),
        maxMs: sorted[sorted.length - 1],
        lastValuesOk: miss === 0,
        missingLast: miss,
        windowSeconds,
        cpuSecondsPer10k: cpu / (r.sent / 10_000),
        netCpuSecondsPer10k: (cpu - idleCpuPerSecond * windowSeconds) / (r.sent / 10_000),
        sysShare: cpu > 0 ? sys / cpu : 0,
        threads,
        switchesPerChange: sw / r.sent,
      });
    }
    const mem = rssMb(bridge.pid);
    return {
      broker: which,
      fullPublishDelivered: loadSeen / ITEMS,
      fullPublishMs,
      fullPublishCompletedMs,
      fullPublishTopics: total,
      rates: out,
      idleCpuPerSecond,
      idleSwitchesPerSecond,
      idleExitedThreads: idleSw.exitedThreads,
      rssMb: mem.rss,
      peakRssMb: mem.hwm,
      v8Flags: o.v8Flags ?? BRIDGE_V8_FLAGS,
    };
  } finally {
    await sub.close().catch(() => {});
    await sim.send({ cmd: "stop" }).catch(() => {});
    await sim.stop();
    await bridge?.stop();
    await broker?.stop();
    await bus.stop();
  }
}

function report(r: VenusBenchResult): string {
  const f = (x: number, d = 2) => Number.isFinite(x) ? x.toFixed(d) : String(x);
  const lines = [
    `Venus bridge benchmark: sim venus --scale ${SCALE} (${ITEMS} load items + base system), private dbus-daemon, ${
      r.broker === "embedded" ? "embedded broker (in the bridge process)" : "mosquitto"
    }`,
    `full publish: ${
      f(r.fullPublishDelivered * 100, 2)
    } % of the ${ITEMS} load topics reached the connected ` +
    `subscriber (target 100 %); last one ${f(r.fullPublishMs, 1)} ms after the keep-alive ` +
    `(full_publish_completed at ${
      f(r.fullPublishCompletedMs, 1)
    } ms, ${r.fullPublishTopics} messages)   target ≤ 150 ms`,
    `idle: bridge CPU ${f(r.idleCpuPerSecond * 100, 2)} % of a core, ${
      f(r.idleSwitchesPerSecond, 1)
    } context switches/s (${r.idleExitedThreads} threads exited in the window, counted)`,
    `rate      secs  sent     recv     delivered  p50 ms  p99 ms  max ms  last values  CPU s/10k raw   net  sys %  switches/change`,
  ];
  for (const x of r.rates) {
    lines.push(
      `${String(x.rate).padEnd(9)} ${String(x.seconds).padEnd(5)} ${String(x.sent).padEnd(8)} ${
        String(x.received).padEnd(8)
      } ` +
        `${f(x.delivered * 100, 1).padStart(6)} %   ${f(x.p50Ms).padStart(6)}  ${f(x.p99Ms).padStart(6)}  ${
          f(x.maxMs).padStart(6)
        }  ` +
        `${x.lastValuesOk ? "all" : `${x.missingLast} missing`}`.padEnd(11) +
        `  ${f(x.cpuSecondsPer10k, 3).padStart(13)} ` +
        `${f(x.netCpuSecondsPer10k, 3).padStart(5)}  ${f(x.sysShare * 100, 0).padStart(4)}   ${
          f(x.switchesPerChange, 2).padStart(6)
        }`,
    );
  }
  lines.push(
    "bridge CPU s by thread: " +
      r.rates.map((x) => `${x.rate}/s ${Object.entries(x.threads).map(([k, v]) => `${k} ${v}`).join(", ")}`)
        .join(" | "),
  );
  lines.push(
    `bridge RSS ${f(r.rssMb, 1)} MB (peak ${f(r.peakRssMb, 1)} MB, V8 flags: ${
      r.v8Flags || "defaults"
    })   targets: p99 ≤ 5 ms @1000/s, ≤ 20 ms @5000/s; ≤ 0.6 CPU s/10k; RSS ≤ 150 MB`,
  );
  return lines.join("\n");
}

if (import.meta.main) {
  const args = Deno.args;
  const get = (k: string) => {
    const i = args.indexOf(k);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const seconds = Number(get("--seconds") ?? 20);
  const rates = (get("--rates") ?? "100,1000,5000").split(",").map(Number);
  const brokerArg = get("--broker") ?? "both";
  if (!["mosquitto", "embedded", "both"].includes(brokerArg)) {
    console.error(`--broker must be mosquitto, embedded or both (got "${brokerArg}")`);
    Deno.exit(2);
  }
  const brokers: BenchBroker[] = brokerArg === "both"
    ? ["mosquitto", "embedded"]
    : [brokerArg as BenchBroker];
  for (const broker of brokers) {
    const r = await runVenusBench({
      seconds,
      rates,
      cpuProfDir: get("--cpu-prof"),
      v8Flags: get("--v8-flags"),
      broker,
    });
    if (args.includes("--json")) console.log(JSON.stringify(r, null, 2));
    else console.log(report(r) + "\n");
  }
}
