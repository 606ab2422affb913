// Integration: private dbus-daemon + Venus simulator + real mosquitto + VenusBridge, watched by a raw
// mqtt.js client that records topic, payload and retain flag.

import assert from "node:assert/strict";
import mqtt from "mqtt";
import { startDbusDaemon } from "./helpers/dbus_daemon.ts";
import { startMosquitto } from "./helpers/mosquitto.ts";
import { type LogEntry, memoryLogger, silentLogger } from "../src/log.ts";
import { MqttLink } from "../src/mqtt/client.ts";
import { VenusBridge } from "../src/bridges/venus_bridge.ts";
import { PVINVERTER, VenusSim } from "../src/sim/venus.ts";
import { variantToJson } from "../src/venus/variant.ts";
import { sleep, until as waitUntil, withTimeout } from "./helpers/wait.ts";
import type { DbusLink } from "../src/venus/link.ts";

/** This file's waits default to 8 s (bus + broker round trips). */
const until = (pred: () => boolean | Promise<boolean>, what: string, ms = 8000, dump?: () => unknown) =>
  waitUntil(pred, what, ms, dump);

const ID = "e0ff50a097c0";
const TEST_TIMEOUT_MS = 40_000;

interface Got {
  topic: string;
  payload: string;
  retain: boolean;
}

/** A watching MQTT client (MQTT 5 with retain-as-published, so live messages show the bridge's retain flag). */
async function watcher(url: string, filters: string[]) {
  const c = await mqtt.connectAsync(url, {
    clientId: `watch_${crypto.randomUUID().slice(0, 8)}`,
    reconnectPeriod: 200,
    protocolVersion: 5,
  });
  const got: Got[] = [];
  c.on(
    "message",
    (topic, payload, packet) => got.push({ topic, payload: payload.toString(), retain: packet.retain }),
  );
  if (filters.length) await c.subscribeAsync(filters, { qos: 1, rap: true });
  return {
    got,
    client: c,
    last(topic: string): Got | undefined {
      for (let i = got.length - 1; i >= 0; i--) if (got[i].topic === topic) return got[i];
      return undefined;
    },
    has(topic: string, payload?: string, retain?: boolean): boolean {
      return got.some((g) =>
        g.topic === topic && (payload === undefined || g.payload === payload) &&
        (retain === undefined || g.retain === retain)
      );
    },
    async publish(topic: string, payload: string, retain = false) {
      await c.publishAsync(topic, payload, { qos: 1, retain });
    },
    async stop() {
      await c.endAsync(true);
    },
  };
}

let fences = 0;

/**
 * Retained messages currently on the broker under `filter` (a fresh subscriber's view): the broker sends
 * them right after the SUBACK, so a marker published after the SUBACK arrives after all of them.
 */
async function retained(url: string, filter: string): Promise<Map<string, string>> {
  const marker = `test/retained-fence/${++fences}`;
  const w = await watcher(url, [filter, marker]);
  await w.publish(marker, "fence");
  await waitUntil(() => w.has(marker), `retained fence on ${filter}`, 8000);
  await w.stop();
  const m = new Map<string, string>();
  for (const g of w.got) if (g.retain && g.topic !== marker) m.set(g.topic, g.payload);
  return m;
}

const isFence = (g: Got) => g.topic.startsWith(`N/${ID}/fence/`);

interface RigOptions {
  keepaliveMs?: number;
  readOnly?: boolean;
  misbehaving?: boolean;
  portalId?: string;
  /** Runs after the broker is up and before the bridge starts (e.g. to leave a retained W there). */
  beforeBridge?: (brokerUrl: string) => Promise<void>;
}

async function rig(o: RigOptions = {}) {
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const s of stops.reverse()) await s().catch(() => {});
  };
  try {
    const bus = await startDbusDaemon();
    stops.push(() => bus.stop());
    const broker = await startMosquitto();
    stops.push(() => broker.stop());
    const sim = new VenusSim({
      address: bus.address,
      logger: silentLogger,
      tickMs: 0,
      misbehaving: o.misbehaving,
    });
    stops.push(() => sim.stop());
    await sim.start();
    const mem = memoryLogger("debug");
    const link = new MqttLink(
      { uri: broker.url, clientId: "venus_bridge_test", reconnectPeriodMs: 200 },
      silentLogger,
    );
    stops.push(() => link.stop());
    await link.start();
    const bridge = new VenusBridge({
      config: {
        address: bus.address,
        portal_id: o.portalId ?? "",
        keepalive: 60,
        read_only: o.readOnly ?? false,
      },
      mqtt: link,
      logger: mem.logger,
      keepaliveMs: o.keepaliveMs ?? 60_000,
      callTimeoutMs: 700,
    });
    stops.push(() => bridge.stop());
    const w = await watcher(broker.url, [`N/${ID}/#`]);
    stops.push(() => w.stop());
    await o.beforeBridge?.(broker.url);
    await bridge.start();
    return { bus, broker, sim, link, bridge, w, log: mem.entries, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/**
 * Fence: everything the bridge was going to do about earlier D-Bus events has reached the watcher. A D-Bus
 * round trip to `service` (the bus delivers a service's earlier signals, and the bridge's earlier calls to
 * it, before this reply), then a marker through the bridge's own MQTT connection (after all its publishes).
 */
async function fence(r: Awaited<ReturnType<typeof rig>>, service = PVINVERTER): Promise<void> {
  await r.bridge.link.getValue(service, "/DeviceInstance");
  const topic = `N/${ID}/fence/${++fences}`;
  r.link.publishFast(topic, "fence", false);
  await until(() => r.w.has(topic), "bridge fence");
}

const VEBUS = "com.victronenergy.vebus.ttyO1";

function test(name: string, fn: () => Promise<void>) {
  Deno.test({ name, fn: () => withTimeout(fn(), TEST_TIMEOUT_MS, name) });
}

const warned = (log: LogEntry[], re: RegExp) =>
  log.some((e) => e.level === "warn" && re.test(e.msg + " " + JSON.stringify(e.fields)));

test("seed: Serial and marker without keep-alive; keep-alive publishes the seed's topics, invalid → null", async () => {
  const r = await rig();
  try {
    assert.equal(r.bridge.portalId, ID); // from com.victronenergy.system /Serial
    await until(() => r.w.has(`N/${ID}/keepalive`, '{"value": 1}', true), "keepalive marker");
    await until(() => r.w.has(`N/${ID}/system/0/Serial`, `{"value": "${ID}"}`, true), "Serial");
    await fence(r);
    assert.equal(r.w.has(`N/${ID}/pvinverter/20/Ac/Power`), false, "no notifications before a keep-alive");

    await r.w.publish(`R/${ID}/system/0/Serial`, ""); // the seed's keep-alive
    await until(() => r.w.has(`N/${ID}/pvinverter/20/Ac/Power`), "pvinverter power");
    assert.deepEqual(r.w.last(`N/${ID}/pvinverter/20/Ac/Power`), {
      topic: `N/${ID}/pvinverter/20/Ac/Power`,
      payload: '{"value": 936.0}',
      retain: true,
    });
    await until(() => r.w.has(`N/${ID}/pvinverter/20/Ac/L2/Power`), "L2");
    assert.equal(r.w.last(`N/${ID}/pvinverter/20/Ac/L2/Power`)!.payload, '{"value": null}');
    // D-Bus doubles keep their type (spec §2: dm prints Python floats): 230.1, 16.0; ints stay ints.
    assert.equal(r.w.last(`N/${ID}/vebus/257/Ac/Out/L1/V`)!.payload, '{"value": 230.1}');
    assert.equal(r.w.last(`N/${ID}/vebus/257/Ac/ActiveIn/CurrentLimit`)!.payload, '{"value": 16.0}');
    assert.equal(r.w.last(`N/${ID}/vebus/257/Mode`)!.payload, '{"value": 3}');
    assert.equal(
      r.w.last(`N/${ID}/settings/0/Settings/CGwacs/BatteryLife/MinimumSocLimit`)!.payload,
      '{"value": 10.0}',
    );
    await until(() => r.w.has(`N/${ID}/full_publish_completed`), "full_publish_completed");
    // Blocked items are never published (spec §1), though the vebus service carries the Tunnel.
    assert.equal(r.w.got.some((g) => g.topic.endsWith("/Interfaces/Mk2/Tunnel")), false);
    assert.equal(
      r.bridge.snapshot().find((s) => s.type === "vebus")!.items.some((i) =>
        i.path === "/Interfaces/Mk2/Tunnel"
      ),
      false,
    );
    assert.match(r.w.last(`N/${ID}/full_publish_completed`)!.payload, /^\{"value": \d{10}\}$/);
    assert.equal(r.w.last(`N/${ID}/vebus/257/Hub4/L1/AcPowerSetpoint`)!.payload, '{"value": 0}');
    assert.equal(r.w.last(`N/${ID}/settings/0/Settings/CGwacs/Hub4Mode`)!.payload, '{"value": 1}');
    assert.equal(
      r.w.last(`N/${ID}/vebus/257/ProductName`)!.payload,
      '{"value": "MultiPlus-II 48/5000/70-50"}',
    );

    // ProductId round-up with wildcards (a late subscriber gets the retained ones).
    const ids = await retained(r.broker.url, `N/${ID}/+/+/ProductId`);
    assert.deepEqual([...ids.entries()].sort(), [
      [`N/${ID}/battery/512/ProductId`, '{"value": 45060}'],
      [`N/${ID}/pvinverter/20/ProductId`, '{"value": 45208}'],
      [`N/${ID}/system/0/ProductId`, '{"value": 41889}'],
      [`N/${ID}/vebus/257/ProductId`, '{"value": 9763}'],
    ]);
    // Changes flow while alive, as they arrive.
    r.sim.set(PVINVERTER, "/Ac/Power", 926, "items");
    await until(() => r.w.has(`N/${ID}/pvinverter/20/Ac/Power`, '{"value": 926}', true), "change 926");
    // A double that happens to be whole is still a double on the wire.
    r.sim.set(PVINVERTER, "/Ac/Power", { signature: "d", value: 900 }, "props");
    await until(() => r.w.has(`N/${ID}/pvinverter/20/Ac/Power`, '{"value": 900.0}', true), "change 900.0");
    r.sim.set("com.victronenergy.system", "/Dc/Battery/Soc", 88.1, "props");
    await until(() => r.w.has(`N/${ID}/system/0/Dc/Battery/Soc`, '{"value": 88.1}', true), "soc change");
  } finally {
    await r.stop();
  }
});

test("a device disappears: empty retained payloads on all its topics; it comes back", async () => {
  const r = await rig();
  try {
    await r.w.publish(`R/${ID}/keepalive`, "");
    await until(() => r.w.has(`N/${ID}/pvinverter/20/Ac/Power`, '{"value": 936.0}'), "published");
    const pvTopics = [
      ...new Set(r.w.got.filter((g) => g.topic.startsWith(`N/${ID}/pvinverter/20/`)).map((g) => g.topic)),
    ];
    assert.equal(pvTopics.length, 21);
    await r.sim.pvinverterOff();
    await until(
      () => pvTopics.every((t) => r.w.has(t, "", true)),
      "empty retained on every pvinverter topic",
    );
    const left = await retained(r.broker.url, `N/${ID}/pvinverter/#`);
    assert.equal(left.size, 0);
    assert.ok((await retained(r.broker.url, `N/${ID}/vebus/#`)).size > 0, "other devices stay");
    await r.sim.pvinverterOn();
    await until(
      () => r.w.last(`N/${ID}/pvinverter/20/Ac/Power`)?.payload === '{"value": 936.0}',
      "published again",
    );
    assert.equal((await retained(r.broker.url, `N/${ID}/pvinverter/#`)).size, 21);
  } finally {
    await r.stop();
  }
});

test("write → SetValue → notification; rejected write logged with its code", async () => {
  const r = await rig();
  try {
    await r.w.publish(`R/${ID}/keepalive`, "");
    await until(() => r.w.has(`N/${ID}/vebus/257/Hub4/L1/AcPowerSetpoint`, '{"value": 0}'), "setpoint 0");
    await r.w.publish(`W/${ID}/vebus/257/Hub4/L1/AcPowerSetpoint`, '{"value": -200}');
    await until(
      () => r.w.has(`N/${ID}/vebus/257/Hub4/L1/AcPowerSetpoint`, '{"value": -200}', true),
      "setpoint -200",
    );
    assert.equal(variantToJson(r.sim.service("vebus").items.get("/Hub4/L1/AcPowerSetpoint")!.value), -200);

    // Out-of-range setting: localsettings-style -1, logged.
    await r.w.publish(`W/${ID}/settings/0/Settings/CGwacs/Hub4Mode`, '{"value": 9}');
    await until(() => warned(r.log, /write rejected by the device.*"code":-1/), "rejected write logged");
    // Read-only item: 1.
    await r.w.publish(`W/${ID}/pvinverter/20/Ac/Power`, '{"value": 1}');
    await until(
      () => warned(r.log, /write rejected.*"path":"\/Ac\/Power".*"code":1/),
      "read-only write logged",
    );
    // Bad payload.
    await r.w.publish(`W/${ID}/vebus/257/Mode`, "-200");
    await until(() => warned(r.log, /bad write request/), "bad payload logged");

    assert.equal(variantToJson(r.sim.service("vebus").items.get("/Hub4/L1/AcPowerSetpoint")!.value), -200);
  } finally {
    await r.stop();
  }
});

test("retained write not executed: not on subscribe, not after a bridge restart, not when delivered live", async () => {
  let url = "";
  const r = await rig({
    beforeBridge: async (brokerUrl) => {
      url = brokerUrl;
      const p = await watcher(brokerUrl, []);
      await p.publish(`W/${ID}/vebus/257/Hub4/L1/AcPowerSetpoint`, '{"value": 300}', true);
      await p.stop();
    },
  });
  try {
    await until(() => warned(r.log, /retained write request NOT executed/), "retained write warning");
    await fence(r, VEBUS); // a SetValue sent before would have reached the service before this reply
    const setpoint = () => variantToJson(r.sim.service("vebus").items.get("/Hub4/L1/AcPowerSetpoint")!.value);
    assert.equal(setpoint(), 0);
    // A second bridge instance (a restart) gets the retained W again from the broker: still not executed.
    const mem = memoryLogger("debug");
    const link2 = new MqttLink({ uri: url, clientId: "venus_bridge_test_2" }, silentLogger);
    await link2.start();
    const b2 = new VenusBridge({
      config: { address: r.bus.address, portal_id: "", keepalive: 60, read_only: false },
      mqtt: link2,
      logger: mem.logger,
    });
    try {
      await b2.start();
      await until(
        () => warned(mem.entries, /retained write request NOT executed/),
        "retained write warning (restart)",
      );
    } finally {
      await b2.stop();
      await link2.stop();
    }
    assert.equal(setpoint(), 0);
    // Published retained while the bridge is connected (delivered live): MQTT 5 retain-as-published
    // still shows the flag, so it is not executed either.
    const before = r.log.filter((e) => /retained write request NOT executed/.test(e.msg)).length;
    await r.w.publish(`W/${ID}/vebus/257/Hub4/L1/AcPowerSetpoint`, '{"value": 400}', true);
    await until(
      () => r.log.filter((e) => /retained write request NOT executed/.test(e.msg)).length > before,
      "live retained write warning",
    );
    await fence(r, VEBUS);
    assert.equal(setpoint(), 0);
    // Clearing the retained W/ topic (an empty retained publish) is not a write request: no warning.
    const warnings = r.log.filter((e) => e.level === "warn").length;
    await r.w.publish(`W/${ID}/vebus/257/Hub4/L1/AcPowerSetpoint`, "", true);
    // Fence: a read request published after the clear, on the same connection, is answered after it.
    await r.w.publish(`R/${ID}/vebus/257/Mode`, "");
    await until(() => r.w.got.some((g) => g.topic === `N/${ID}/vebus/257/Mode` && !g.retain), "read reply");
    assert.deepEqual(r.log.filter((e) => e.level === "warn").slice(warnings), []);
    assert.equal(setpoint(), 0);
  } finally {
    await r.stop();
  }
});

test("read_only = true refuses writes", async () => {
  const r = await rig({ readOnly: true });
  try {
    await r.w.publish(`W/${ID}/vebus/257/Hub4/L1/AcPowerSetpoint`, '{"value": -200}');
    await until(() => warned(r.log, /write refused: \[dbus\] read_only = true/), "refusal logged");
    await fence(r, VEBUS);
    assert.equal(variantToJson(r.sim.service("vebus").items.get("/Hub4/L1/AcPowerSetpoint")!.value), 0);
    assert.equal(r.bridge.stats.writesRefused, 1);
  } finally {
    await r.stop();
  }
});

test("read requests: a setting, a subtree, unknown device, wildcards ignored", async () => {
  const r = await rig();
  try {
    await r.w.publish(`R/${ID}/settings/0/Settings/Vrmlogger/LogInterval`, "");
    await until(
      () => r.w.got.some((g) => g.topic === `N/${ID}/settings/0/Settings/Vrmlogger/LogInterval` && !g.retain),
      "read reply",
    );
    assert.equal(
      r.w.got.find((g) => g.topic === `N/${ID}/settings/0/Settings/Vrmlogger/LogInterval` && !g.retain)!
        .payload,
      '{"value": 900}',
    );
    await r.w.publish(`R/${ID}/settings/0/Settings/CGwacs`, "");
    await until(() => r.w.has(`N/${ID}/settings/0/Settings/CGwacs`), "subtree reply");
    assert.deepEqual(JSON.parse(r.w.last(`N/${ID}/settings/0/Settings/CGwacs`)!.payload), {
      value: {
        "AcPowerSetPoint": 50,
        "Hub4Mode": 1,
        "BatteryLife/MinimumSocLimit": 10,
        "MaxDischargePower": -1,
      },
    });
    await r.w.publish(`R/${ID}/tank/3/Level`, "");
    await until(() => warned(r.log, /request for an unknown device.*tank\/3/), "unknown device logged");
    // Brokers refuse wildcard PUBLISH topics, so feed one to the handler directly.
    r.bridge.handleMessage({ topic: `R/${ID}/+/+/ProductId`, payload: new Uint8Array(), retain: false });
    r.bridge.handleMessage({
      topic: `W/${ID}/vebus/#`,
      payload: new TextEncoder().encode('{"value":1}'),
      retain: false,
    });
    assert.equal(
      r.log.filter((e) => e.msg === "ignoring request" && /wildcards/.test(String(e.fields.reason))).length,
      2,
    );
  } finally {
    await r.stop();
  }
});

test("keep-alive expiry clears every published topic except Serial; notifications stop", async () => {
  const r = await rig({ keepaliveMs: 1200 });
  try {
    await r.w.publish(`R/${ID}/vebus/257/Mode`, ""); // any read re-arms the keep-alive
    await until(() => r.w.has(`N/${ID}/pvinverter/20/Ac/Power`, '{"value": 936.0}', true), "alive");
    const n = (await retained(r.broker.url, `N/${ID}/#`)).size;
    assert.ok(n > 80, `retained topics while alive: ${n}`);
    await until(() => r.w.has(`N/${ID}/pvinverter/20/Ac/Power`, "", true), "cleared", 5000);
    await fence(r);
    const left = await retained(r.broker.url, `N/${ID}/#`);
    assert.deepEqual([...left.keys()].sort(), [`N/${ID}/keepalive`, `N/${ID}/system/0/Serial`]);
    assert.equal(left.get(`N/${ID}/system/0/Serial`), `{"value": "${ID}"}`);
    assert.equal(r.bridge.alive, false);
    const count = r.w.got.filter((g) => !isFence(g)).length;
    r.sim.set(PVINVERTER, "/Ac/Power", 500, "props");
    await fence(r);
    assert.equal(r.w.got.filter((g) => !isFence(g)).length, count, "no notifications after expiry");
    // A write re-arms it: everything comes back, including the change made meanwhile.
    await r.w.publish(`W/${ID}/vebus/257/Hub4/L1/AcPowerSetpoint`, '{"value": 10}');
    await until(() => r.w.has(`N/${ID}/pvinverter/20/Ac/Power`, '{"value": 500}', true), "alive again");
  } finally {
    await r.stop();
  }
});

test("selective keep-alive: only matching topics, each filter with its own lifetime", async () => {
  const r = await rig({ keepaliveMs: 1500 });
  try {
    await r.w.publish(`R/${ID}/keepalive`, '["pvinverter/#", "battery/+/Soc"]');
    await until(() => r.w.has(`N/${ID}/battery/512/Soc`, '{"value": 87.5}'), "battery soc");
    await until(() => r.w.has(`N/${ID}/full_publish_completed`), "completed");
    const data = (g: Got) =>
      !isFence(g) && !/\/(keepalive|full_publish_completed|system\/0\/Serial)$/.test(g.topic);
    const topics = new Set(r.w.got.filter(data).map((g) => g.topic));
    assert.equal(topics.size, 22); // 21 pvinverter topics + battery Soc
    assert.ok(
      [...topics].every((t) => t.startsWith(`N/${ID}/pvinverter/20/`) || t === `N/${ID}/battery/512/Soc`),
    );
    r.sim.set("com.victronenergy.battery", "/Dc/0/Voltage", 51, "props");
    r.sim.set("com.victronenergy.battery", "/Soc", 86, "props");
    await until(() => r.w.has(`N/${ID}/battery/512/Soc`, '{"value": 86}'), "soc change");
    assert.equal(r.w.has(`N/${ID}/battery/512/Dc/0/Voltage`), false);
    // Refresh only the pvinverter filter: the battery filter expires on its own.
    // Real time between the two keep-alives, so that the two lifetimes end apart (not a synchronisation
    // wait; the timing itself is tested exactly on a fake clock in venus_keepalive_test.ts).
    await sleep(700);
    await r.w.publish(`R/${ID}/keepalive`, '["pvinverter/#"]');
    await until(() => r.w.has(`N/${ID}/battery/512/Soc`, "", true), "battery filter expired", 4000);
    assert.equal(r.w.has(`N/${ID}/pvinverter/20/Ac/Power`, ""), false, "pvinverter still alive");
    await until(() => r.w.has(`N/${ID}/pvinverter/20/Ac/Power`, "", true), "pvinverter filter expired", 4000);
  } finally {
    await r.stop();
  }
});

test("keep-alive options: full_publish_completed echo, suppress-republish", async () => {
  const r = await rig();
  try {
    await r.w.publish(
      `R/${ID}/keepalive`,
      '{"keepalive-options": [{"full-publish-completed-echo": "tok-42"}]}',
    );
    await until(() => r.w.has(`N/${ID}/full_publish_completed`), "completed");
    const done = JSON.parse(r.w.last(`N/${ID}/full_publish_completed`)!.payload);
    assert.equal(done["full-publish-completed-echo"], "tok-42");
    assert.ok(Math.abs(done.value - Date.now() / 1000) < 10);
    const idx = r.w.got.findIndex((g) => g.topic === `N/${ID}/full_publish_completed`);
    assert.ok(
      r.w.got.slice(0, idx).some((g) => g.topic === `N/${ID}/pvinverter/20/Ac/Power`),
      "data before completion",
    );
    const powerCount = () => r.w.got.filter((g) => g.topic === `N/${ID}/pvinverter/20/Ac/Power`).length;
    // Another options keep-alive republishes everything (fmq style)…
    const c1 = powerCount();
    await r.w.publish(
      `R/${ID}/keepalive`,
      '{"keepalive-options": [{"full-publish-completed-echo": "tok-43"}]}',
    );
    await until(() =>
      r.w.has(`N/${ID}/full_publish_completed`, undefined) &&
      r.w.got.some((g) => g.payload.includes("tok-43")), "second completion");
    assert.equal(powerCount(), c1 + 1);
    // … unless suppressed.
    await r.w.publish(`R/${ID}/keepalive`, '{"keepalive-options": ["suppress-republish"]}');
    // Fence: a read request after it on the same connection; its reply comes after any republish.
    await r.w.publish(`R/${ID}/vebus/257/Mode`, "");
    await until(() => r.w.got.some((g) => g.topic === `N/${ID}/vebus/257/Mode` && !g.retain), "read reply");
    assert.equal(powerCount(), c1 + 1);
  } finally {
    await r.stop();
  }
});

test("keepalive = 0 publishes always; misbehaving service skipped", async () => {
  const r = await rig({ keepaliveMs: 0, misbehaving: true });
  try {
    await until(
      () => r.w.has(`N/${ID}/pvinverter/20/Ac/Power`, '{"value": 936.0}', true),
      "published without keep-alive",
    );
    assert.ok(warned(r.log, /skipping misbehaving D-Bus service.*meteo\.misbehaving/));
    assert.equal(r.w.got.some((g) => g.topic.includes("/meteo/")), false);
  } finally {
    await r.stop();
  }
});

test("bus restart and broker restart: reconnect and republish", async () => {
  const r = await rig({ portalId: ID });
  try {
    await r.w.publish(`R/${ID}/keepalive`, "");
    await until(() => r.w.has(`N/${ID}/pvinverter/20/Ac/Power`, '{"value": 936.0}'), "alive");
    // Broker restart: retained messages are lost (no persistence); the bridge republishes them.
    await r.broker.restart();
    await until(() => r.link.connected, "bridge reconnected");
    await until(
      async () => (await retained(r.broker.url, `N/${ID}/pvinverter/20/Ac/Power`)).size === 1,
      "republished",
    );
    // Bus restart: the simulator and the bridge reconnect; changes flow again.
    await r.bus.restart();
    await until(
      () => r.bridge.link.stats.reconnects >= 1 && (r.bridge.link as DbusLink).services.size === 5,
      "D-Bus back",
      10000,
    );
    await until(() => r.w.client.connected, "watcher reconnected");
    r.sim.set(PVINVERTER, "/Ac/Power", 777, "props");
    await until(
      () => r.w.has(`N/${ID}/pvinverter/20/Ac/Power`, '{"value": 777}', true),
      "change after bus restart",
    );
  } finally {
    await r.stop();
  }
});
