// MQTT command round trip through `ess2mqtt serve` against the inverter simulator:
// publish <prefix>/cmd/discharge_pct → <prefix>/result/discharge_pct received; p50/p99 over 1,000 commands,
// and the RSS of the serve process afterwards. Run: deno run -A tests/bench/lxp_bridge_bench.ts
// Targets (issue): p50 ≤ 5 ms, p99 ≤ 20 ms, RSS ≤ 120 MB.

import { InverterSimulator } from "../../src/sim/inverter.ts";
import { MqttLink } from "../../src/mqtt/client.ts";
import { silentLogger } from "../../src/log.ts";
import { freePort, startMosquitto } from "../helpers/mosquitto.ts";
import { spawnCli, writeConfig } from "../helpers/cli.ts";
import { rssMb } from "./proc_stats.ts";

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export async function runLxpBridgeBench(broker: "embedded" | "mosquitto", commands = 1000) {
  const sim = new InverterSimulator(
    { port: 0, interval: 0, datalog: "BA12345678", serial: "0123456789" },
    silentLogger,
  );
  const simPort = (await sim.start()).port;
  const mosq = broker === "mosquitto" ? await startMosquitto() : undefined;
  const port = mosq?.port ?? freePort();
  const cfg = await writeConfig(
    `[mqtt]\n${
      mosq ? `uri = ${mosq.url}` : `listen = 127.0.0.1:${port}`
    }\n[lxp]\nhost = 127.0.0.1\nport = ${simPort}\nserial = 0123456789\ndatalog = BA12345678\n[log]\nlevel = warn\n`,
  );
  // the same V8 flags as `deno task serve` / the compiled binary
  const serve = spawnCli(["-c", cfg.path, "serve"], { denoArgs: ["--v8-flags=--max-semi-space-size=4"] });
  let link = new MqttLink({ uri: `mqtt://127.0.0.1:${port}` }, silentLogger);
  try {
    // the embedded broker starts with serve: until it listens, connections are refused (a new link each try)
    const start = Date.now();
    while (true) {
      try {
        await link.start();
        break;
      } catch (err) {
        if (Date.now() - start > 15000) throw err;
        await new Promise((r) => setTimeout(r, 200));
        link = new MqttLink({ uri: `mqtt://127.0.0.1:${port}` }, silentLogger);
      }
    }
    let waiting: ((t: number) => void) | undefined;
    link.subscribe("octolux/result/discharge_pct", () => waiting?.(performance.now()));
    const online = new Promise<void>((r) =>
      link.subscribe("octolux/status", (m) => {
        if (new TextDecoder().decode(m.payload) === "online") r();
      })
    );
    await online;
    const rtt: number[] = [];
    for (let i = 0; i < commands + 50; i++) {
      const done = new Promise<number>((r) => (waiting = r));
      const t0 = performance.now();
      link.publish("octolux/cmd/discharge_pct", String(i % 101), { qos: 0 });
      const t1 = await done;
      if (i >= 50) rtt.push(t1 - t0); // the first 50 warm up the JIT
    }
    rtt.sort((a, b) => a - b);
    return {
      broker,
      commands,
      p50_ms: +percentile(rtt, 50).toFixed(2),
      p99_ms: +percentile(rtt, 99).toFixed(2),
      max_ms: +rtt[rtt.length - 1].toFixed(2),
      serve_rss_mb: +rssMb(serve.pid).rss.toFixed(1),
    };
  } finally {
    await link.stop();
    await serve.stop();
    await sim.stop();
    await mosq?.stop();
    await cfg.remove();
  }
}

if (import.meta.main) {
  for (const broker of ["mosquitto", "embedded"] as const) {
    console.log(JSON.stringify(await runLxpBridgeBench(broker)));
  }
}
