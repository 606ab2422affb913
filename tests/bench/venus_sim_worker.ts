// Benchmark helper process: the Venus simulator with --scale N, driven by JSON lines on stdin.
//   {"cmd":"rate","rate":1000,"ms":5000}  → {"sent":…, "elapsedMs":…, "last":{"loadtest/1000/Load/P000": <value>, …}}
//   {"cmd":"stop"}                         → exits
import { VenusSim } from "../../src/sim/venus.ts";
import { silentLogger } from "../../src/log.ts";
import { commands, reply } from "./worker_io.ts";

const [address, scaleText, portal] = Deno.args;
const sim = new VenusSim({
  address,
  logger: silentLogger,
  scale: Number(scaleText),
  tickMs: 0,
  portalId: portal,
});
await sim.start();
reply({ ready: true, services: sim.services.size });
for await (const cmd of commands()) {
  if (cmd.cmd === "rate") {
    const r = await sim.runRate(cmd.rate, cmd.ms, cmd.via ?? "props");
    reply({ sent: r.sent, elapsedMs: r.elapsedMs, last: Object.fromEntries(r.last) });
  } else if (cmd.cmd === "stop") {
    break;
  }
}
await sim.stop();
Deno.exit(0);
