// In-process: the keep-alive module (pure, on a fake clock) and VenusBridge on a fake D-Bus link, a fake
// MQTT link and a fake clock. Timing (lifetimes, expiry, the republish limit) without real-time sleeps;
// expected topics and payloads from the spec (victron-dbus-mqtt §1–§3), not from the bridge's output.

import assert from "node:assert/strict";
import { type LogEntry, memoryLogger } from "../src/log.ts";
import { VenusBridge } from "../src/bridges/venus_bridge.ts";
import { KeepaliveFilters, RepublishLimiter } from "../src/venus/keepalive.ts";
import type { DbusVariant } from "../src/venus/variant.ts";
import { FakeClock } from "./helpers/fake_clock.ts";
import { FakeMqtt, FakeVenusLink } from "./helpers/fake_venus.ts";

const ID = "c0ffee000001";
const TTL = 60_000;
const d = (x: number): DbusVariant => ({ signature: "d", value: x });
const i = (x: number): DbusVariant => ({ signature: "i", value: x });
const s = (x: string): DbusVariant => ({ signature: "s", value: x });

const SYSTEM = "com.victronenergy.system";
const VEBUS = "com.victronenergy.vebus.ttyO1";
const BATTERY = "com.victronenergy.battery.socketcan_can0";
const PAYGO = "com.victronenergy.paygo";

/** The data topics a full publish covers (blocked items excluded), with their payloads. */
const FULL: Record<string, string> = {
  [`N/${ID}/system/0/DeviceInstance`]: '{"value": 0}',
  [`N/${ID}/system/0/Serial`]: `{"value": "${ID}"}`,
  [`N/${ID}/system/0/Dc/Battery/Soc`]: '{"value": 87.5}',
  [`N/${ID}/vebus/257/DeviceInstance`]: '{"value": 257}',
  [`N/${ID}/vebus/257/Mode`]: '{"value": 3}',
  [`N/${ID}/vebus/257/Ac/Out/L1/V`]: '{"value": 230.0}',
  [`N/${ID}/battery/512/DeviceInstance`]: '{"value": 512}',
  [`N/${ID}/battery/512/Soc`]: '{"value": 87.5}',
  [`N/${ID}/battery/512/Dc/0/Voltage`]: '{"value": 52.1}',
  [`N/${ID}/paygo/0/DeviceInstance`]: '{"value": 0}',
  [`N/${ID}/paygo/0/Status`]: '{"value": 1}',
};
const SERIAL = `N/${ID}/system/0/Serial`;
const MARKER = `N/${ID}/keepalive`;
const COMPLETED = `N/${ID}/full_publish_completed`;

async function rig(o: { keepaliveMs?: number; readOnly?: boolean } = {}) {
  const clock = new FakeClock();
  const link = new FakeVenusLink();
  const mqtt = new FakeMqtt();
  const mem = memoryLogger("debug");
  link.add(SYSTEM, { "/DeviceInstance": i(0), "/Serial": s(ID), "/Dc/Battery/Soc": d(87.5) });
  link.add(VEBUS, {
    "/DeviceInstance": i(257),
    "/Mode": i(3),
    "/Ac/Out/L1/V": d(230),
    "/Interfaces/Mk2/Tunnel": { signature: "ay", value: new Uint8Array([5, 255, 87]) },
  });
  link.add(BATTERY, { "/DeviceInstance": i(512), "/Soc": d(87.5), "/Dc/0/Voltage": d(52.1) });
  link.add(PAYGO, { "/DeviceInstance": i(0), "/LVD/Threshold": d(46.5), "/Status": i(1) });
  const bridge = new VenusBridge({
    config: { address: "unix:path=/unused", portal_id: "", keepalive: 60, read_only: o.readOnly ?? false },
    mqtt,
    logger: mem.logger,
    link,
    clock,
    keepaliveMs: o.keepaliveMs ?? TTL,
  });
  await bridge.start();
  const data = () => mqtt.published.filter((p) => p.topic !== MARKER && p.topic !== COMPLETED);
  return { clock, link, mqtt, bridge, log: mem.entries, data };
}

const warnings = (log: LogEntry[]) => log.filter((e) => e.level === "warn");

/** topic → payload of the retained publishes among `ps` (last wins). */
function retainedMap(ps: { topic: string; payload: string; retain: boolean }[]): Record<string, string> {
  const m: Record<string, string> = {};
  for (const p of ps) if (p.retain) m[p.topic] = p.payload;
  return m;
}

// ------------------------------------------------------------------------------------------------
// The pure module

Deno.test("KeepaliveFilters: lifetime per filter, refresh, expiry, generation", () => {
  const f = new KeepaliveFilters(1000);
  assert.equal(f.alive, false);
  assert.equal(f.nextExpiry(), undefined);
  assert.deepEqual(f.arm(["vebus/#", "battery/+/Soc"], 0).map((x) => x.filter), ["vebus/#", "battery/+/Soc"]);
  const g = f.generation;
  assert.equal(f.alive, true);
  assert.equal(f.matches(["battery", "512", "Soc"]), true);
  assert.equal(f.matches(["battery", "512", "Dc", "0", "Voltage"]), false);
  assert.equal(f.matches(["vebus", "257"]), true); // # matches the parent level too
  // Refreshing a live filter is not fresh and keeps the generation.
  assert.deepEqual(f.arm(["vebus/#"], 500), []);
  assert.equal(f.generation, g);
  assert.equal(f.nextExpiry(), 1000);
  assert.deepEqual(f.expire(999), []);
  assert.deepEqual(f.expire(1000), ["battery/+/Soc"]);
  assert.notEqual(f.generation, g);
  assert.equal(f.nextExpiry(), 1500);
  assert.equal(f.everything, false);
  f.arm(null, 1200); // everything
  assert.equal(f.everything, true);
  assert.deepEqual(f.expire(2200).sort(), ["#", "vebus/#"]);
  assert.equal(f.alive, false);
});

Deno.test("KeepaliveFilters: ttl 0 is always alive and tracks nothing", () => {
  const f = new KeepaliveFilters(0);
  assert.equal(f.alive, true);
  assert.deepEqual(f.arm(["vebus/#"], 0), []);
  assert.equal(f.nextExpiry(), undefined);
  assert.equal(f.matches(["battery", "1", "Soc"]), true);
});

Deno.test("RepublishLimiter: 3 per window, the rest deferred to one republish at the window's end", () => {
  const l = new RepublishLimiter(3, 1000);
  assert.equal(l.nextRefill(), undefined);
  assert.deepEqual([l.request("a", 0), l.request("b", 10), l.request("c", 20)], [true, true, true]);
  assert.equal(l.request("d", 30), false);
  assert.equal(l.request(undefined, 40), false);
  assert.equal(l.nextRefill(), 1000);
  assert.equal(l.refill(999), undefined);
  assert.deepEqual(l.refill(1000), ["d", undefined]); // served now, opening the next window
  assert.equal(l.nextRefill(), 2000);
  assert.deepEqual([l.request("e", 1500), l.request("f", 1600), l.request("g", 1700)], [true, true, false]);
  assert.deepEqual(l.refill(2000), ["g"]);
  assert.equal(l.refill(3000), undefined);
  assert.equal(l.nextRefill(), undefined);
});

// ------------------------------------------------------------------------------------------------
// The bridge on fake edges

Deno.test("bridge: nothing but the marker and Serial before a keep-alive; a keep-alive publishes every item", async () => {
  const r = await rig();
  try {
    assert.deepEqual(retainedMap(r.mqtt.published), {
      [MARKER]: '{"value": 1}',
      [SERIAL]: `{"value": "${ID}"}`,
    });
    r.mqtt.clear();
    r.mqtt.deliver(`R/${ID}/keepalive`, "");
    const { [SERIAL]: _serial, ...rest } = FULL; // Serial is on the broker already
    assert.deepEqual(retainedMap(r.data()), rest);
    assert.equal(r.mqtt.payloads(COMPLETED).length, 1);
    assert.equal(r.clock.pending, 1, "one expiry timer");
  } finally {
    await r.bridge.stop();
  }
});

Deno.test("bridge: keep-alive expiry at the lifetime clears every published topic except Serial and the marker", async () => {
  const r = await rig();
  try {
    r.mqtt.deliver(`R/${ID}/keepalive`, "");
    r.mqtt.clear();
    r.clock.advance(TTL - 1);
    assert.deepEqual(r.mqtt.published, [], "still alive just before the lifetime ends");
    r.link.change(BATTERY, "/Soc", d(86));
    assert.deepEqual(r.mqtt.published, [{
      topic: `N/${ID}/battery/512/Soc`,
      payload: '{"value": 86.0}',
      retain: true,
    }]);
    r.mqtt.clear();
    r.clock.advance(2);
    const cleared = Object.fromEntries(Object.keys(FULL).filter((t) => t !== SERIAL).map((t) => [t, ""]));
    assert.deepEqual(retainedMap(r.mqtt.published), cleared);
    assert.equal(r.mqtt.published.length, Object.keys(cleared).length);
    assert.equal(r.bridge.alive, false);
    // Not alive: changes are not published.
    r.mqtt.clear();
    r.link.change(BATTERY, "/Soc", d(85));
    r.clock.advance(10 * TTL);
    assert.deepEqual(r.mqtt.published, []);
    assert.equal(r.clock.pending, 0);
  } finally {
    await r.bridge.stop();
  }
});

Deno.test("bridge: a repeated keep-alive only extends the lifetime (no republish)", async () => {
  const r = await rig();
  try {
    r.mqtt.deliver(`R/${ID}/keepalive`, "");
    r.clock.advance(30_000);
    r.mqtt.clear();
    r.mqtt.deliver(`R/${ID}/keepalive`, "");
    assert.deepEqual(r.mqtt.published, []);
    r.clock.advance(TTL - 1); // 30 s past the first keep-alive's end
    assert.deepEqual(r.mqtt.published, []);
    r.clock.advance(2);
    assert.equal(r.mqtt.last(`N/${ID}/vebus/257/Mode`)?.payload, "");
  } finally {
    await r.bridge.stop();
  }
});

Deno.test("bridge: selective keep-alive publishes only matching topics; each filter expires on its own", async () => {
  const r = await rig();
  try {
    r.mqtt.clear();
    r.mqtt.deliver(`R/${ID}/keepalive`, '["battery/+/Soc"]');
    assert.deepEqual(retainedMap(r.data()), { [`N/${ID}/battery/512/Soc`]: '{"value": 87.5}' });
    r.clock.advance(20_000);
    r.mqtt.clear();
    r.mqtt.deliver(`R/${ID}/keepalive`, '["vebus/#"]');
    assert.deepEqual(retainedMap(r.data()), {
      [`N/${ID}/vebus/257/DeviceInstance`]: '{"value": 257}',
      [`N/${ID}/vebus/257/Mode`]: '{"value": 3}',
      [`N/${ID}/vebus/257/Ac/Out/L1/V`]: '{"value": 230.0}',
    });
    r.mqtt.clear();
    r.link.change(BATTERY, "/Dc/0/Voltage", d(51));
    r.link.change(BATTERY, "/Soc", d(86.5));
    assert.deepEqual(r.mqtt.published, [{
      topic: `N/${ID}/battery/512/Soc`,
      payload: '{"value": 86.5}',
      retain: true,
    }]);
    r.mqtt.clear();
    r.clock.advance(TTL - 20_000 + 1); // the battery filter's end
    assert.deepEqual(r.mqtt.published, [{ topic: `N/${ID}/battery/512/Soc`, payload: "", retain: true }]);
    r.mqtt.clear();
    r.link.change(VEBUS, "/Mode", i(1));
    assert.deepEqual(r.mqtt.payloads(`N/${ID}/vebus/257/Mode`), ['{"value": 1}'], "vebus still alive");
    r.mqtt.clear();
    r.clock.advance(20_000); // the vebus filter's end
    assert.deepEqual(retainedMap(r.mqtt.published), {
      [`N/${ID}/vebus/257/DeviceInstance`]: "",
      [`N/${ID}/vebus/257/Mode`]: "",
      [`N/${ID}/vebus/257/Ac/Out/L1/V`]: "",
    });
    assert.deepEqual(r.bridge.stats.filters, []);
  } finally {
    await r.bridge.stop();
  }
});

Deno.test("bridge: a device disappears: empty retained payloads on all its topics, alive or not", async () => {
  const r = await rig();
  try {
    r.mqtt.clear();
    r.link.remove(BATTERY); // not alive: nothing of it was published, cleared anyway (dbus-mqtt)
    assert.deepEqual(r.mqtt.published, [
      { topic: `N/${ID}/battery/512/DeviceInstance`, payload: "", retain: true },
      { topic: `N/${ID}/battery/512/Soc`, payload: "", retain: true },
      { topic: `N/${ID}/battery/512/Dc/0/Voltage`, payload: "", retain: true },
    ]);
    r.mqtt.deliver(`R/${ID}/keepalive`, "");
    r.mqtt.clear();
    r.link.remove(VEBUS);
    assert.deepEqual(retainedMap(r.mqtt.published), {
      [`N/${ID}/vebus/257/DeviceInstance`]: "",
      [`N/${ID}/vebus/257/Mode`]: "",
      [`N/${ID}/vebus/257/Ac/Out/L1/V`]: "",
    });
    // It comes back while alive: published again; requests for it work again.
    r.mqtt.clear();
    r.link.add(VEBUS, { "/DeviceInstance": i(257), "/Mode": i(3) });
    assert.deepEqual(retainedMap(r.mqtt.published), {
      [`N/${ID}/vebus/257/DeviceInstance`]: '{"value": 257}',
      [`N/${ID}/vebus/257/Mode`]: '{"value": 3}',
    });
  } finally {
    await r.bridge.stop();
  }
});

Deno.test("bridge: forced republishes (keep-alive options) at most 3 per second, the rest at the window's end", async () => {
  const r = await rig();
  try {
    r.mqtt.clear();
    for (const tok of ["t1", "t2", "t3", "t4", "t5"]) {
      r.mqtt.deliver(
        `R/${ID}/keepalive`,
        JSON.stringify({ "keepalive-options": [{ "full-publish-completed-echo": tok }] }),
      );
    }
    const echoes = () => r.mqtt.payloads(COMPLETED).map((p) => JSON.parse(p)["full-publish-completed-echo"]);
    assert.deepEqual(echoes(), ["t1", "t2", "t3"]);
    assert.equal(r.mqtt.payloads(`N/${ID}/vebus/257/Mode`).length, 3);
    r.clock.advance(999);
    assert.deepEqual(echoes(), ["t1", "t2", "t3"]);
    r.clock.advance(1);
    assert.deepEqual(echoes(), ["t1", "t2", "t3", "t4", "t5"]); // one republish, both echoes
    assert.equal(r.mqtt.payloads(`N/${ID}/vebus/257/Mode`).length, 4);
    r.clock.advance(5000);
    assert.equal(r.mqtt.payloads(COMPLETED).length, 5);
  } finally {
    await r.bridge.stop();
  }
});

Deno.test("bridge: keepalive = 0 publishes everything at once and never expires", async () => {
  const r = await rig({ keepaliveMs: 0 });
  try {
    assert.deepEqual(retainedMap(r.data()), FULL);
    r.mqtt.clear();
    r.clock.advance(100 * TTL);
    assert.deepEqual(r.mqtt.published, []);
    r.link.change(VEBUS, "/Mode", i(2));
    assert.deepEqual(r.mqtt.payloads(`N/${ID}/vebus/257/Mode`), ['{"value": 2}']);
  } finally {
    await r.bridge.stop();
  }
});

Deno.test("bridge: blocked items (vebus /Interfaces/Mk2/Tunnel, paygo /LVD/Threshold) are never published", async () => {
  const r = await rig({ keepaliveMs: 0 });
  try {
    const blocked = (t: string) => t.endsWith("/Interfaces/Mk2/Tunnel") || t.endsWith("/LVD/Threshold");
    assert.equal(r.mqtt.published.some((p) => blocked(p.topic)), false);
    r.link.change(VEBUS, "/Interfaces/Mk2/Tunnel", { signature: "ay", value: new Uint8Array([1, 2]) });
    r.link.change(PAYGO, "/LVD/Threshold", d(47));
    r.mqtt.deliver(`R/${ID}/vebus/257/Interfaces/Mk2/Tunnel`, "");
    r.mqtt.deliver(`R/${ID}/paygo/0/LVD/Threshold`, "");
    r.mqtt.deliver(`R/${ID}/keepalive`, JSON.stringify({ "keepalive-options": [] })); // forced republish
    await Promise.resolve();
    assert.equal(r.mqtt.published.some((p) => blocked(p.topic)), false);
    r.link.change(PAYGO, "/Status", i(2));
    assert.deepEqual(r.mqtt.payloads(`N/${ID}/paygo/0/Status`).at(-1), '{"value": 2}');
  } finally {
    await r.bridge.stop();
  }
});

Deno.test("bridge: an empty W/ payload (a retained W/ topic cleared) is not a write request: no warning", async () => {
  const r = await rig();
  try {
    r.mqtt.deliver(`W/${ID}/vebus/257/Mode`, "", true);
    r.mqtt.deliver(`W/${ID}/vebus/257/Mode`, "", false); // MQTT 3.1.1 delivers the clear live without the flag
    r.mqtt.deliver(`W/${ID}/vebus/257/Mode`, '{"value": 1}'); // a real write after it
    assert.deepEqual(r.link.writes, [[VEBUS, "/Mode", { signature: "i", value: 1 }]]);
    assert.deepEqual(warnings(r.log), []);
    // A retained non-empty write still warns and is not executed.
    r.mqtt.deliver(`W/${ID}/vebus/257/Mode`, '{"value": 2}', true);
    assert.equal(r.link.writes.length, 1);
    assert.match(warnings(r.log)[0].msg, /retained write request NOT executed/);
  } finally {
    await r.bridge.stop();
  }
});
