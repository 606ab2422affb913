// Benchmark: wall time of `ess2mqtt read-hold 21 --json` over LXP end to end (process start → exit) against
// the inverter simulator on loopback, and of `deno run` of an empty script in the same run (interleaved),
// so start-up cost shows as a ratio. Targets: ≤ 250 ms, ≤ 2.5× the empty script.
// Prints min/median/max; runReadHoldBench() returns the figures.
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
  /** `deno run` of an empty script, same flags, interleaved with the read-hold runs. */
  emptyMedianMs: number;
  ratio: number;
  targetRatio: number;
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
    "--json",
    "--host",
    "127.0.0.1",
    "--port",
    String(port),
    "--datalog",
    "BA12345678",
    "--serial",
    "0123456789",
  ];
  const empty = await Deno.makeTempFile({ suffix: ".ts" });
  const emptyArgs = ["run", "-A", "--config", DENO_JSON, empty];
  const once = async (argv: string[]): Promise<number> => {
    const t0 = performance.now();
    const out = await new Deno.Command(Deno.execPath(), {
      args: argv,
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    })
      .output();
    const ms = performance.now() - t0;
    if (out.code !== 0) {
      throw new Error(`${argv.join(" ")} exited ${out.code}: ${new TextDecoder().decode(out.stderr)}`);
    }
    return ms;
  };
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  try {
    await once(args); // warm the module cache
    await once(emptyArgs);
    const samples: number[] = [];
    const emptySamples: number[] = [];
    for (let i = 0; i < runs; i++) {
      samples.push(await once(args));
      emptySamples.push(await once(emptyArgs));
    }
    const sorted = [...samples].sort((a, b) => a - b);
    const r1 = (n: number) => Math.round(n * 10) / 10;
    return {
      emptyMedianMs: r1(median(emptySamples)),
      ratio: Math.round((median(samples) / median(emptySamples)) * 100) / 100,
      targetRatio: 2.5,
      runs,
      minMs: r1(sorted[0]),
      medianMs: r1(sorted[Math.floor(sorted.length / 2)]),
      maxMs: r1(sorted[sorted.length - 1]),
      samplesMs: samples.map(r1),
      targetMs: 250,
    };
  } finally {
    await sim.stop();
    await Deno.remove(empty);
  }
}

if (import.meta.main) {
  const runs = Number(Deno.args[0] ?? 9);
  const r = await runReadHoldBench({ runs });
  console.log(
    `read-hold 21 end to end (${r.runs} runs): min ${r.minMs} ms, median ${r.medianMs} ms, max ${r.maxMs} ms ` +
      `(target ≤ ${r.targetMs} ms); empty script median ${r.emptyMedianMs} ms → ${r.ratio}× (target ≤ ${r.targetRatio}×)`,
  );
}
