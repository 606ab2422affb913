// Venus bridge with [dbus] discovery_paths: private dbus-daemon + Venus simulator + real mosquitto. The
// chosen items stay published with no keep-alive and outlive an expiring keep-alive (a keep-alive of the
// bridge's own); a device leaving the bus empties its items' topics (the sensors' availability goes
// offline); the device config's units come from the path or from GetText; HA online → announced again.

import assert from "node:assert/strict";
import mqtt from "mqtt";
import { startDbusDaemon } from "./helpers/dbus_daemon.ts";
import { startMosquitto } from "./helpers/mosquitto.ts";
import { silentLogger } from "../src/log.ts";
import { MqttLink } from "../src/mqtt/client.ts";
import { VenusBridge } from "../src/bridges/venus_bridge.ts";
import { VenusSim } from "../src/sim/venus.ts";
import { until, withTimeout } from "./helpers/wait.ts";

const ID = "e0ff50a097c0";
const PATHS = ["system/0/Dc/Battery/Soc", "pvinverter/20/Ac/Power", "battery/512/Info/MaxChargeCurrent"];
const CONFIG = `homeassistant/device/ess2mqtt_venus_${ID}/config`;

Deno.test({
  name: "Venus discovery: chosen items kept published, emptied when their device leaves; units; re-announce",
  fn: () => withTimeout(run(), 40_000, "Venus discovery test"),
});

async function run() {
  const stops: (() => Promise<unknown>)[] = [];
  try {
    const bus = await startDbusDaemon();
    stops.push(() => bus.stop());
    const broker = await startMosquitto();
    stops.push(() => broker.stop());
    const sim = new VenusSim({ address: bus.address, logger: silentLogger, tickMs: 0 });
    stops.push(() => sim.stop());
    await sim.start();
    const got: { topic: string; payload: string }[] = [];
    const w = await mqtt.connectAsync(broker.url, { clientId: "ha_venus_watch", protocolVersion: 5 });
    stops.push(() => w.endAsync(true));
    w.on("message", (topic, payload) => got.push({ topic, payload: payload.toString() }));
    await w.subscribeAsync([`N/${ID}/#`, "homeassistant/#", "fence"], { qos: 1 });
    const has = (topic: string, payload?: string) =>
      got.some((g) => g.topic === topic && (payload === undefined || g.payload === payload));
    const count = (topic: string) => got.filter((g) => g.topic === topic).length;
    const fence = async (n: number) => {
      await w.publishAsync("fence", String(n), { qos: 1 });
      await until(() => has("fence", String(n)), `fence ${n}`, 8000);
      return got.findIndex((g) => g.topic === "fence" && g.payload === String(n));
    };

    const link = new MqttLink({ uri: broker.url, clientId: "ha_venus_bridge" }, silentLogger);
    stops.push(() => link.stop());
    await link.start();
    const bridge = new VenusBridge({
      config: { address: bus.address, portal_id: "", keepalive: 60, read_only: false },
      mqtt: link,
      logger: silentLogger,
      keepaliveMs: 400,
      callTimeoutMs: 700,
      discovery: { discoveryPrefix: "homeassistant", prefix: "octolux", paths: PATHS },
    });
    stops.push(() => bridge.stop());
    await bridge.start();

    // the device config: units from the path (Soc, Power) and from GetText ("70A" → A)
    await until(() => has(CONFIG), "device config", 8000);
    const cmps = JSON.parse(got.find((g) => g.topic === CONFIG)!.payload).cmps;
    assert.deepEqual(
      Object.values(cmps).map((c) => (c as { unit_of_measurement?: string }).unit_of_measurement),
      ["%", "W", "A"],
    );
    // chosen items published with no keep-alive; others not
    for (const p of PATHS) await until(() => has(`N/${ID}/${p}`), p, 8000);
    let f = await fence(1);
    assert.equal(got.slice(0, f).some((g) => g.topic === `N/${ID}/pvinverter/20/Ac/L1/Power`), false);

    // a keep-alive from a client publishes everything; when it lapses, all but the chosen items are emptied
    await w.publishAsync(`R/${ID}/keepalive`, "", { qos: 1 });
    await until(
      () => has(`N/${ID}/pvinverter/20/Ac/L1/Power`, '{"value": 936.0}'),
      "keep-alive publishes",
      8000,
    );
    await until(() => has(`N/${ID}/pvinverter/20/Ac/L1/Power`, ""), "expiry empties other items", 8000);
    f = await fence(2);
    for (const p of PATHS) {
      assert.equal(got.slice(0, f).some((g) => g.topic === `N/${ID}/${p}` && g.payload === ""), false, p);
    }

    // the pvinverter leaves the bus: its chosen item is emptied (availability template → offline)
    await sim.pvinverterOff();
    await until(() => has(`N/${ID}/pvinverter/20/Ac/Power`, ""), "emptied when the device leaves", 8000);

    // Home Assistant restarts
    const before = count(CONFIG);
    await w.publishAsync("homeassistant/status", "online", { qos: 1 });
    await until(() => count(CONFIG) > before, "announced again", 8000);
  } finally {
    for (const s of stops.reverse()) await s().catch(() => {});
  }
}
