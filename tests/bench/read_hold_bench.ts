// Benchmark: wall time of `ess2mqtt read-hold 21` end to end (process start → exit) against the inverter
// simulator on loopback. Target ≤ 250 ms. Prints min/median/max; runReadHoldBench() returns the figures.
//
//   deno run -A tests/bench/read_hold_bench.ts [runs]

import { InverterSimulator } from "../../src/sim/inverter.ts";
import { silentLogger } from "../../src/log.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const DENO_JSON = new URL("../../deno.json", import.meta.url).pathname;
const ROOT = new URL("../..", import.meta.url).pathname;

export interface ReadHoldBenchResult {
  runs: number;
  minMs: number;
  medianMs: number;
  maxMs: number;
  samplesMs: number[];
  targetMs: number;
}

export async function runReadHoldBench(opts: { runs?: number } = {}): Promise<ReadHoldBenchResult> {
  const runs = opts.runs ?? 9;
  const sim = new InverterSimulator(
    { port: 0, datalog: "BA12345678", serial: "0123456789", interval: 0, heartbeatInterval: 0 },
    silentLogger,
  );
  const { port } = await sim.start();
  const args = [
    "run",
    "-A",
    "--config",
    DENO_JSON,
    MAIN,
    "read-hold",
    "21",
    "--host",
    "127.0.0.1",
    "--port",
    String(port),
    "--datalog",
    "BA12345678",
    "--serial",
    "0123456789",
  ];
  const once = async (): Promise<number> => {
    const t0 = performance.now();
    const out = await new Deno.Command(Deno.execPath(), { args, cwd: ROOT, stdout: "piped", stderr: "piped" })
      .output();
    const ms = performance.now() - t0;
    if (out.code !== 0) {
      throw new Error(`read-hold exited ${out.code}: ${new TextDecoder().decode(out.stderr)}`);
    }
    return ms;
  };
  try {
    await once(); // warm the module cache
    const samples: number[] = [];
    for (let i = 0; i < runs; i++) samples.push(await once());
    const sorted = [...samples].sort((a, b) => a - b);
    const r1 = (n: number) => Math.round(n * 10) / 10;
    return {
      runs,
      minMs: r1(sorted[0]),
      medianMs: r1(sorted[Math.floor(sorted.length / 2)]),
      maxMs: r1(sorted[sorted.length - 1]),
      samplesMs: samples.map(r1),
      targetMs: 250,
    };
  } finally {
    await sim.stop();
  }
}

if (import.meta.main) {
  const runs = Number(Deno.args[0] ?? 9);
  const r = await runReadHoldBench({ runs });
  console.log(
    `read-hold 21 end to end (${r.runs} runs): min ${r.minMs} ms, median ${r.medianMs} ms, max ${r.maxMs} ms ` +
      `(target ≤ ${r.targetMs} ms)`,
  );
}
