// Integration: `ess2mqtt demo` (the README's first command) brings up simulators, the embedded broker and
// both bridges; a plain mosquitto_sub sees the inverter's inputs and the Venus notifications.

import assert from "node:assert/strict";
import { mosquittoPub, mosquittoSub } from "./helpers/mosquitto.ts";
import { spawnCli } from "./helpers/cli.ts";

Deno.test("demo: inputs and Venus values reach a mosquitto_sub on the embedded broker", async () => {
  const demo = spawnCli(["--json", "demo", "--port", "0", "--interval", "1"]);
  let sub: ReturnType<typeof mosquittoSub> | undefined;
  try {
    await demo.waitFor((l) => l === "}", 30000); // the pretty-printed JSON document ends
    const start = demo.lines.indexOf("{");
    const doc = JSON.parse(demo.lines.slice(start, demo.lines.indexOf("}", start) + 1).join("\n"));
    const port = Number(new URL(doc.broker).port);
    assert.ok(port > 0);
    assert.match(doc.dbus, /^unix:path=/);
    sub = mosquittoSub(port, ["octolux/#", "N/#"]);
    await sub.waitFor((l) => l.startsWith('octolux/inputs/1 {"status":'), 20000);
    await sub.waitFor((l) => /^N\/e0ff50a097c0\/battery\/512\/Soc \{"value": [\d.]+\}$/.test(l), 20000);
    await mosquittoPub(port, "octolux/cmd/discharge_pct", "50");
    await sub.waitFor((l) => l === "octolux/result/discharge_pct OK");
    await sub.waitFor((l) => l === "octolux/hold/65 50");
  } finally {
    await sub?.stop();
    assert.equal(await demo.stop("SIGTERM"), 0);
  }
});
