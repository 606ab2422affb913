import assert from "node:assert/strict";
import fc from "fast-check";
import { startDbusDaemon } from "./helpers/dbus_daemon.ts";
import { memoryLogger, silentLogger } from "../src/log.ts";
import { resolveBusAddress } from "../src/venus/bus.ts";
import { VenusError } from "../src/venus/errors.ts";
import { exitCodeFor } from "../src/cli/errors.ts";
import { DbusLink, type DbusLinkHandlers, type ServiceInfo } from "../src/venus/link.ts";
import { PVINVERTER, type SimServiceDef, VenusSim } from "../src/sim/venus.ts";
import { jsonToVariant, type JsonValue, variantToJson } from "../src/venus/variant.ts";
import { until, withTimeout } from "./helpers/wait.ts";
import { roundTripJson } from "./helpers/json_arbitrary.ts";

const TEST_TIMEOUT_MS = 30_000;

/** A bus + simulator + link, torn down by the returned stop(). */
async function rig(
  o: { extra?: SimServiceDef[]; misbehaving?: boolean; tcp?: boolean; callTimeoutMs?: number } = {},
) {
  const bus = await startDbusDaemon({ tcp: o.tcp });
  const sim = new VenusSim({
    address: bus.address,
    logger: silentLogger,
    tickMs: 0,
    extra: o.extra,
    misbehaving: o.misbehaving,
  });
  const events: string[] = [];
  const values: [string, string, JsonValue][] = [];
  const mem = memoryLogger("debug");
  const handlers: DbusLinkHandlers = {
    serviceAdded: (s: ServiceInfo) => events.push(`added ${s.name} ${s.type}/${s.instance} ${s.method}`),
    serviceRemoved: (s: ServiceInfo) => events.push(`removed ${s.name}`),
    valueChanged: (s, p, v) => values.push([s.name, p, variantToJson(v)]),
    linkChanged: (up) => events.push(up ? "up" : "down"),
  };
  let link: DbusLink | undefined;
  try {
    await sim.start();
    link = new DbusLink(
      { address: bus.address, callTimeoutMs: o.callTimeoutMs ?? 2000, reconnectMinMs: 50 },
      mem.logger,
      handlers,
    );
    await link.start();
  } catch (err) {
    await link?.stop();
    await sim.stop();
    await bus.stop();
    throw err;
  }
  return {
    bus,
    sim,
    link: link!,
    events,
    values,
    log: mem.entries,
    stop: async () => {
      await link!.stop();
      await sim.stop();
      await bus.stop();
    },
  };
}

function test(name: string, fn: () => Promise<void>) {
  Deno.test({ name, fn: () => withTimeout(fn(), TEST_TIMEOUT_MS, name) });
}

Deno.test("resolveBusAddress: system, session, addresses, abstract rewrite", () => {
  const env = (m: Record<string, string>) => (k: string) => m[k];
  assert.equal(resolveBusAddress("system", env({})), "unix:path=/var/run/dbus/system_bus_socket");
  assert.equal(resolveBusAddress("system", env({ DBUS_SYSTEM_BUS_ADDRESS: "unix:path=/x" })), "unix:path=/x");
  assert.equal(
    resolveBusAddress("session", env({ DBUS_SESSION_BUS_ADDRESS: "unix:path=/s" })),
    "unix:path=/s",
  );
  assert.throws(() => resolveBusAddress("session", env({})), /DBUS_SESSION_BUS_ADDRESS/);
  assert.equal(resolveBusAddress("unix:path=/tmp/b,guid=1", env({})), "unix:path=/tmp/b,guid=1");
  assert.equal(
    resolveBusAddress("unix:abstract=/tmp/dbus-X,guid=1", env({})),
    "unix:socket=\0/tmp/dbus-X,guid=1",
  );
  assert.equal(resolveBusAddress("tcp:host=127.0.0.1,port=78", env({})), "tcp:host=127.0.0.1,port=78");
  assert.throws(() => resolveBusAddress("192.168.1.5:78", env({})), /not system, session or a D-Bus address/);
});

test("discovery: GetItems on every service, instances, misbehaving service skipped", async () => {
  const r = await rig({ misbehaving: true, callTimeoutMs: 800 });
  try {
    const svc = (n: string) => r.link.services.get(n)!;
    assert.equal(svc(PVINVERTER).type, "pvinverter");
    assert.equal(svc(PVINVERTER).instance, 20);
    assert.equal(svc(PVINVERTER).method, "GetItems");
    assert.deepEqual(variantToJson(svc(PVINVERTER).items.get("/Ac/Power")!), 936);
    assert.equal(variantToJson(svc(PVINVERTER).items.get("/Ac/L2/Power")!), null);
    assert.equal(svc("com.victronenergy.vebus.ttyO1").instance, 257);
    assert.equal(svc("com.victronenergy.battery.socketcan_can0").instance, 512);
    assert.equal(svc("com.victronenergy.settings").instance, 0);
    assert.equal(svc("com.victronenergy.system").instance, 0);
    assert.equal(r.link.services.size, 5);
    assert.match(r.link.skipped.get("com.victronenergy.meteo.misbehaving") ?? "", /no reply within 800 ms/);
    assert.ok(r.log.some((e) => e.level === "warn" && e.msg === "skipping misbehaving D-Bus service"));
  } finally {
    await r.stop();
  }
});

test("discovery fallbacks: GetValue on /, introspection, absurd replies", async () => {
  const def = (name: string, legacy: SimServiceDef["legacy"]): SimServiceDef => ({
    name,
    legacy,
    items: {
      "/DeviceInstance": { value: { signature: "i", value: 7 } },
      "/Dc/0/Voltage": { value: { signature: "d", value: 12.5 } },
      "/Alarms/Low": { value: { signature: "ai", value: [] } },
    },
  });
  const r = await rig({
    extra: [
      def("com.victronenergy.solarcharger.old", "getvalue"),
      def("com.victronenergy.tank.older", "introspect"),
      def("com.victronenergy.meteo.absurd", "absurd"),
    ],
  });
  try {
    for (
      const [name, method] of [
        ["com.victronenergy.solarcharger.old", "GetValue"],
        ["com.victronenergy.tank.older", "Introspect"],
        ["com.victronenergy.meteo.absurd", "Introspect"],
      ]
    ) {
      const s = r.link.services.get(name);
      assert.ok(s, name);
      assert.equal(s.method, method, name);
      assert.equal(s.instance, 7);
      assert.deepEqual([...s.items.keys()].sort(), ["/Alarms/Low", "/Dc/0/Voltage", "/DeviceInstance"]);
      assert.equal(variantToJson(s.items.get("/Dc/0/Voltage")!), 12.5);
      assert.equal(variantToJson(s.items.get("/Alarms/Low")!), null);
    }
  } finally {
    await r.stop();
  }
});

test("signals: PropertiesChanged and ItemsChanged update values and add new paths", async () => {
  const r = await rig();
  try {
    r.sim.set(PVINVERTER, "/Ac/Power", 1000.5, "props");
    r.sim.set(PVINVERTER, "/Ac/L1/Power", 999, "items");
    r.sim.set("com.victronenergy.battery", "/New/Path", "hello", "items");
    r.sim.set("com.victronenergy.battery", "/Other/New", 3, "props");
    await until(() => r.values.length >= 4, "4 changes");
    assert.deepEqual(r.values, [
      [PVINVERTER, "/Ac/Power", 1000.5],
      [PVINVERTER, "/Ac/L1/Power", 999],
      ["com.victronenergy.battery.socketcan_can0", "/New/Path", "hello"],
      ["com.victronenergy.battery.socketcan_can0", "/Other/New", 3],
    ]);
    const bat = r.link.services.get("com.victronenergy.battery.socketcan_can0")!;
    assert.equal(variantToJson(bat.items.get("/New/Path")!), "hello");
  } finally {
    await r.stop();
  }
});

test("NameOwnerChanged: a service going away and coming back", async () => {
  const r = await rig();
  try {
    r.events.length = 0;
    await r.sim.pvinverterOff();
    await until(() => r.events.includes(`removed ${PVINVERTER}`), "removed");
    assert.equal(r.link.services.has(PVINVERTER), false);
    await r.sim.pvinverterOn();
    await until(() => r.events.includes(`added ${PVINVERTER} pvinverter/20 GetItems`), "added again");
    assert.equal(r.link.services.has(PVINVERTER), true);
    // A brand-new service is discovered too.
    await r.sim.addService({
      name: "com.victronenergy.grid.cgwacs_ttyUSB1",
      items: {
        "/DeviceInstance": { value: { signature: "i", value: 30 } },
        "/Ac/Power": { value: { signature: "d", value: -5 } },
      },
    });
    await until(
      () => r.events.includes("added com.victronenergy.grid.cgwacs_ttyUSB1 grid/30 GetItems"),
      "grid added",
    );
  } finally {
    await r.stop();
  }
});

test("GetValue, GetText, subtree GetValue, SetValue return codes", async () => {
  const r = await rig();
  try {
    const L = r.link;
    assert.equal(variantToJson(await L.getValue(PVINVERTER, "/Ac/Power")), 936);
    assert.equal(await L.getText(PVINVERTER, "/ProductId"), "0xB098");
    assert.deepEqual(variantToJson(await L.getValue("com.victronenergy.settings", "/Settings/CGwacs")), {
      "AcPowerSetPoint": 50,
      "Hub4Mode": 1,
      "BatteryLife/MinimumSocLimit": 10,
      "MaxDischargePower": -1,
    });
    assert.equal(
      await L.setValue("com.victronenergy.settings", "/Settings/CGwacs/Hub4Mode", jsonToVariant(3)),
      0,
    );
    assert.equal(
      await L.setValue("com.victronenergy.settings", "/Settings/CGwacs/Hub4Mode", jsonToVariant(9)),
      -1,
    );
    assert.equal(await L.setValue(PVINVERTER, "/Ac/Power", jsonToVariant(1)), 1); // read-only
    assert.equal(await L.setValue("com.victronenergy.vebus.ttyO1", "/Mode", jsonToVariant(7)), 2); // rejected
    assert.equal(
      variantToJson(await L.getValue("com.victronenergy.settings", "/Settings/CGwacs/Hub4Mode")),
      3,
    );
    await assert.rejects(L.getValue(PVINVERTER, "/No/Such"), /UnknownObject/);
    await assert.rejects(L.getValue("com.victronenergy.nosuch", "/X"), /ServiceUnknown|NameHasNoOwner/);
  } finally {
    await r.stop();
  }
});

test("property: JSON → SetValue → GetValue over a real bus is the identity", async () => {
  const r = await rig();
  try {
    const vebus = "com.victronenergy.vebus.ttyO1";
    const json = roundTripJson({ maxItems: 3, keys: fc.string() });
    await fc.assert(
      fc.asyncProperty(json, async (j) => {
        assert.equal(await r.link.setValue(vebus, "/CustomName", jsonToVariant(j)), 0);
        const back = variantToJson(await r.link.getValue(vebus, "/CustomName"));
        assert.equal(JSON.stringify(back), JSON.stringify(j));
      }),
      { numRuns: 60 },
    );
  } finally {
    await r.stop();
  }
});

test("tcp: address with ANONYMOUS auth", async () => {
  const r = await rig({ tcp: true });
  try {
    assert.match(r.bus.address, /^tcp:/);
    assert.equal(r.link.services.size, 5);
  } finally {
    await r.stop();
  }
});

test("bus restart: the link reconnects and rediscovers", async () => {
  const r = await rig();
  try {
    r.events.length = 0;
    await r.bus.restart();
    await until(() => r.events.includes("down"), "link down");
    await until(
      () => r.events.includes("up") && r.link.services.size === 5,
      "link up with 5 services",
      10000,
    );
    r.values.length = 0;
    r.sim.set(PVINVERTER, "/Ac/Power", 5, "props");
    await until(() => r.values.some(([, p, v]) => p === "/Ac/Power" && v === 5), "change after restart");
    assert.equal(r.link.stats.reconnects, 1);
  } finally {
    await r.stop();
  }
});

test("unreachable bus: start rejects with exit code 4", async () => {
  const link = new DbusLink(
    { address: "unix:path=/nonexistent/ess2mqtt-test-bus", connectTimeoutMs: 2000 },
    silentLogger,
  );
  await assert.rejects(
    link.start(),
    (e: Error) => e instanceof VenusError && exitCodeFor(e) === 4 && /unreachable/.test(e.message),
  );
  await link.stop();
});
