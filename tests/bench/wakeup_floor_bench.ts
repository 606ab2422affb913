// The floor under "CPU s per 10,000 changes": what a Deno process costs per message when all it does is
// read a 150-byte message from one socket and write it to another (wakeup_floor_forwarder.ts), at the
// Venus benchmark's rates, measured the same way (utime + stime from /proc over the window). At low rates
// every message is one wakeup of an idle process, and that wakeup, not the bridge's own work, is most of
// the Venus bridge's figure at 100 changes/s.
//
// Run: deno run -A tests/bench/wakeup_floor_bench.ts [--seconds 20] [--rates 100,1000,5000]

import { freePort } from "../helpers/mosquitto.ts";
import { cpuSeconds } from "./proc_stats.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface FloorFigures {
  sockets: "node:net" | "Deno";
  rate: number;
  sent: number;
  forwarded: number;
  cpuSecondsPer10k: number;
}

async function measure(kind: "node" | "deno", rate: number, seconds: number): Promise<FloorFigures> {
  const sink = Deno.listen({ hostname: "127.0.0.1", port: freePort() });
  const listenPort = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("./wakeup_floor_forwarder.ts", import.meta.url).pathname,
      kind,
      String(listenPort),
      String(sink.addr.port),
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let forwarded = 0;
  let conn: Deno.TcpConn | undefined;
  let input: Deno.TcpConn | undefined;
  try {
    const reader = child.stdout.getReader();
    await reader.read(); // "ready"
    reader.releaseLock();
    const accepted = sink.accept();
    input = await Deno.connect({ hostname: "127.0.0.1", port: listenPort });
    input.setNoDelay(true);
    conn = await accepted;
    const drained = (async () => {
      const buf = new Uint8Array(65536);
      for (let n = await conn!.read(buf); n !== null; n = await conn!.read(buf)) forwarded += n;
    })().catch(() => {});
    await sleep(1000); // the forwarder settles (module load, JIT of startup code)
    const msg = new Uint8Array(150).fill(0x78);
    const total = rate * seconds;
    const cpu0 = cpuSeconds(child.pid);
    const t0 = performance.now();
    let sent = 0;
    while (sent < total) {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate) + 1);
      while (sent < due) {
        await input.write(msg);
        sent++;
      }
      await sleep(Math.max(0, ((sent / rate) * 1000) - (performance.now() - t0)));
    }
    for (let i = 0; i < 100 && forwarded < total * msg.length; i++) await sleep(10);
    const cpu = cpuSeconds(child.pid) - cpu0;
    conn.close(); // the forwarder keeps its sink connection open: end the drain from this side
    conn = undefined;
    await drained;
    return {
      sockets: kind === "node" ? "node:net" : "Deno",
      rate,
      sent,
      forwarded: Math.floor(forwarded / msg.length),
      cpuSecondsPer10k: +(cpu / (sent / 10_000)).toFixed(3),
    };
  } finally {
    input?.close();
    try {
      conn?.close();
    } catch { /* closed by the peer */ }
    sink.close();
    child.kill();
    await child.status;
    await child.stdout.cancel().catch(() => {});
  }
}

export async function runWakeupFloorBench(
  o: { seconds?: number; rates?: number[] } = {},
): Promise<{ floor: FloorFigures[] }> {
  const floor: FloorFigures[] = [];
  for (const rate of o.rates ?? [100, 1000, 5000]) {
    for (const kind of ["node", "deno"] as const) floor.push(await measure(kind, rate, o.seconds ?? 20));
  }
  return { floor };
}

export function formatFloor(r: { floor: FloorFigures[] }): string {
  const lines = [
    "Deno wakeup floor: a forwarder that only reads a 150-byte message and writes it on (CPU s per 10,000 messages)",
  ];
  lines.push("rate      node:net   Deno sockets");
  for (const rate of new Set(r.floor.map((f) => f.rate))) {
    const get = (s: string) =>
      r.floor.find((f) => f.rate === rate && f.sockets === s)?.cpuSecondsPer10k.toFixed(3) ?? "-";
    lines.push(`${String(rate).padEnd(10)}${get("node:net").padEnd(11)}${get("Deno")}`);
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const get = (flag: string) => {
    const i = Deno.args.indexOf(flag);
    return i >= 0 ? Deno.args[i + 1] : undefined;
  };
  const r = await runWakeupFloorBench({
    seconds: get("--seconds") ? Number(get("--seconds")) : undefined,
    rates: get("--rates")?.split(",").map(Number),
  });
  console.log(formatFloor(r));
}
