// Benchmark helper process: the Venus simulator with --scale N, driven by JSON lines on stdin.
//   {"cmd":"rate","rate":1000,"ms":5000}  → {"sent":…, "elapsedMs":…, "last":{"loadtest/1000/Load/P000": <value>, …}}
//   {"cmd":"stop"}                         → exits
import { VenusSim } from "../../src/sim/venus.ts";
import { silentLogger } from "../../src/log.ts";

const [address, scaleText, portal] = Deno.args;
const sim = new VenusSim({ address, logger: silentLogger, scale: Number(scaleText), tickMs: 0, portalId: portal });
await sim.start();
const out = (o: unknown) => Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(o) + "\n"));
out({ ready: true, services: sim.services.size });
let buf = "";
const dec = new TextDecoder();
for await (const chunk of Deno.stdin.readable) {
  buf += dec.decode(chunk, { stream: true });
  let i;
  while ((i = buf.indexOf("\n")) >= 0) {
    const line = buf.slice(0, i);
    buf = buf.slice(i + 1);
    const cmd = JSON.parse(line);
    if (cmd.cmd === "rate") {
      const r = await sim.runRate(cmd.rate, cmd.ms, cmd.via ?? "props");
      out({ sent: r.sent, elapsedMs: r.elapsedMs, last: Object.fromEntries(r.last) });
    } else if (cmd.cmd === "stop") {
      await sim.stop();
      Deno.exit(0);
    }
  }
}
await sim.stop();
