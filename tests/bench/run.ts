// `deno task bench`: runs every benchmark and prints its figures (one JSON line each; run alone, each
// script prints a table). Speed and memory targets live here, never in tests.
// Pass names to run a subset: deno task bench codec read_hold lxp_bridge venus tui floor chaos
// (chaos: the chaos soak, 10,000 commands or 10 minutes; CHAOS_COMMANDS / CHAOS_MINUTES override)

import { runCodecBench } from "./lxp_codec_bench.ts";
import { runReadHoldBench } from "./read_hold_bench.ts";
import { runLxpBridgeBench } from "./lxp_bridge_bench.ts";

type Bench = () => Promise<Record<string, unknown>>;

const benches: Record<string, Bench> = {
  codec: () => runCodecBench(),
  read_hold: async () => ({ ...(await runReadHoldBench()) }),
  lxp_bridge: async () => ({
    mosquitto: await runLxpBridgeBench("mosquitto"),
    embedded: await runLxpBridgeBench("embedded"),
  }),
  venus: async () => {
    const { runVenusBench } = await import("./venus_bench.ts");
    return {
      mosquitto: await runVenusBench({ broker: "mosquitto" }),
      embedded: await runVenusBench({ broker: "embedded" }),
    };
  },
  chaos: async () => {
    const { runChaosSoak } = await import("./chaos_soak.ts");
    const { false_ok_examples, ...figures } = await runChaosSoak({
      commands: Number(Deno.env.get("CHAOS_COMMANDS") ?? 10000),
      maxSeconds: Number(Deno.env.get("CHAOS_MINUTES") ?? 10) * 60,
      rate: 30,
      brokerRestartEveryS: 60,
    });
    return { ...figures, ...(false_ok_examples.length ? { false_ok_examples } : {}) };
  },
  tui: async () => {
    const { runTuiBench } = await import("./tui_bench.ts");
    return { ...(await runTuiBench()) };
  },
  floor: async () => {
    const { runWakeupFloorBench } = await import("./wakeup_floor_bench.ts");
    return { ...(await runWakeupFloorBench()) };
  },
};

const wanted = Deno.args.length ? Deno.args : Object.keys(benches);
for (const name of wanted) {
  const bench = benches[name];
  if (!bench) {
    console.error(`unknown benchmark "${name}" (known: ${Object.keys(benches).join(", ")})`);
    Deno.exit(2);
  }
  const t0 = performance.now();
  const figures = await bench();
  console.log(
    JSON.stringify({ bench: name, seconds: +((performance.now() - t0) / 1000).toFixed(1), ...figures }),
  );
}
