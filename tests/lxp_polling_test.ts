// The bridge's own reads (in-process: simulator over TCP, real LxpClient, real mosquitto, the timer
// injected): inputs 1–3 when the link comes up and on every read interval, holdings 0–239 on connect; they go
// through the command queue (never inside a command's read-modify-write) and publish no result.

import assert from "node:assert/strict";
import { LxpClient } from "../src/lxp/client.ts";
import { MqttLink } from "../src/mqtt/client.ts";
import { LxpBridge } from "../src/bridges/lxp_bridge.ts";
import { silentLogger } from "../src/log.ts";
import { FN_READ_HOLD, FN_READ_INPUT, FN_WRITE_SINGLE } from "../src/lxp/frame.ts";
import { mosquittoPub, mosquittoSub, startMosquitto, subscribed } from "./helpers/mosquitto.ts";
import { startTestSimulator } from "./helpers/inverter_sim.ts";
import { until } from "./helpers/wait.ts";

async function rig(poll: { readIntervalMs: number; holdingsOnConnect: boolean }) {
  const { sim, port } = await startTestSimulator({ seed: 3 });
  const mosq = await startMosquitto();
  const sub = mosquittoSub(mosq.port, ["octolux/#"]);
  const ticks: (() => void)[] = [];
  let cleared = 0;
  const client = new LxpClient({
    host: "127.0.0.1",
    port,
    datalog: sim.datalog,
    serial: sim.serial,
    connectTimeoutMs: 2000,
    requestTimeoutMs: 2000,
    silenceTimeoutMs: 0,
    heartbeatEcho: false,
  }, silentLogger);
  const mqtt = new MqttLink({ uri: mosq.url }, silentLogger);
  await mqtt.start();
  // the subscriber is up before anything is published
  await subscribed(sub, mosq.port, "octolux/fence");
  const bridge = new LxpBridge({
    prefix: "octolux",
    commandTimeoutMs: 5000,
    poll: {
      ...poll,
      setInterval: (fn) => ticks.push(fn),
      clearInterval: () => cleared++,
    },
    inverter: client,
    mqtt,
    logger: silentLogger,
  });
  bridge.start();
  client.start();
  return {
    sim,
    sub,
    bridge,
    ticks,
    cleared: () => cleared,
    mosq,
    async close() {
      await bridge.stop();
      await client.stop();
      await mqtt.stop();
      await sub.stop();
      await sim.stop();
      await mosq.stop();
    },
  };
}

const reads = (r: Awaited<ReturnType<typeof rig>>, fn: number) =>
  r.sim.received.filter((p) => p.fn === fn).map((p) => `${p.register}+${p.count}`);

Deno.test("polling: inputs 1–3 and holdings 0–239 on connect, inputs on every tick, never a result", async () => {
  const r = await rig({ readIntervalMs: 30_000, holdingsOnConnect: true });
  try {
    // on connect: three input reads, six holding reads of 40 — every state topic exists
    for (const n of [1, 2, 3]) await r.sub.waitFor((l) => l.startsWith(`octolux/inputs/${n} {`));
    await r.sub.waitFor((l) => l.startsWith("octolux/hold/239 "));
    await r.bridge.idle();
    assert.deepEqual(reads(r, FN_READ_INPUT), ["0+40", "40+40", "80+40"]);
    assert.deepEqual(reads(r, FN_READ_HOLD), ["0+40", "40+40", "80+40", "120+40", "160+40", "200+40"]);
    for (let reg = 0; reg < 240; reg++) {
      // 12–14 are the inverter's running clock: only their presence is stable
      const want = reg >= 12 && reg <= 14
        ? `octolux/hold/${reg} `
        : `octolux/hold/${reg} ${r.sim.holdings[reg]}`;
      assert.ok(
        r.sub.lines.some((l) => reg >= 12 && reg <= 14 ? l.startsWith(want) : l === want),
        `hold/${reg}`,
      );
    }
    assert.equal(r.ticks.length, 1, "one interval armed");

    // a tick reads inputs 1–3 again
    r.ticks[0]();
    await until(() => reads(r, FN_READ_INPUT).length === 6, "second round of input reads");
    await r.bridge.idle();

    // a command and a tick at once: the tick's reads wait for the command's read-modify-write of 21
    await mosquittoPub(r.mosq.port, "octolux/cmd/ac_charge", "on");
    await until(() => r.bridge.stats.commands === 1, "the command arrives");
    r.ticks[0]();
    await r.sub.waitFor((l) => l === "octolux/result/ac_charge OK");
    await r.bridge.idle();
    const seq = r.sim.received.map((p) => `${p.fn}:${p.register}`);
    const write = seq.indexOf(`${FN_WRITE_SINGLE}:21`);
    assert.equal(seq[write - 1], `${FN_READ_HOLD}:21`, `read 21 right before the write: ${seq.join(" ")}`);
    assert.equal(reads(r, FN_READ_INPUT).length, 9);

    // fence: a real command's result; before it, the only result is ac_charge's — polls publish none
    await mosquittoPub(r.mosq.port, "octolux/cmd/read_hold", "5");
    await r.sub.waitFor((l) => l === "octolux/result/read_hold OK");
    assert.deepEqual(r.sub.lines.filter((l) => l.startsWith("octolux/result/")), [
      "octolux/result/ac_charge OK",
      "octolux/result/read_hold OK",
    ]);
    assert.equal(r.bridge.pollStats.reads, 3 + 6 + 3 + 3);
    assert.equal(r.bridge.pollStats.failures, 0);
    assert.equal(r.bridge.stats.commands, 2);
  } finally {
    await r.close();
  }
  assert.equal(r.cleared(), 1, "the interval is cleared on stop");
});

Deno.test("polling: read_interval 0 arms no timer; without read_holdings_on_connect only inputs are read", async () => {
  const r = await rig({ readIntervalMs: 0, holdingsOnConnect: false });
  try {
    for (const n of [1, 2, 3]) await r.sub.waitFor((l) => l.startsWith(`octolux/inputs/${n} {`));
    await r.bridge.idle();
    // fence: a command answered after the on-connect reads
    await mosquittoPub(r.mosq.port, "octolux/cmd/read_input", "4");
    await r.sub.waitFor((l) => l === "octolux/result/read_input OK");
    assert.deepEqual(reads(r, FN_READ_INPUT), ["0+40", "40+40", "80+40", "120+40"]);
    assert.deepEqual(reads(r, FN_READ_HOLD), []);
    assert.equal(r.sub.lines.some((l) => l.startsWith("octolux/hold/")), false);
    assert.equal(r.ticks.length, 0);
  } finally {
    await r.close();
  }
});
