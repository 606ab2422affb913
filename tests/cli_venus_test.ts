// The one-shot D-Bus commands against a private dbus-daemon with the simulated GX on it.

import assert from "node:assert/strict";
import { startDbusDaemon } from "./helpers/dbus_daemon.ts";
import { runCli } from "./helpers/cli.ts";
import { silentLogger } from "../src/log.ts";
import { VenusSim } from "../src/sim/venus.ts";

async function rig() {
  const bus = await startDbusDaemon();
  const sim = new VenusSim({ address: bus.address, logger: silentLogger, tickMs: 0 });
  try {
    await sim.start();
  } catch (err) {
    await sim.stop();
    await bus.stop();
    throw err;
  }
  return {
    bus,
    stop: async () => {
      await sim.stop();
      await bus.stop();
    },
  };
}

const BATTERY = "com.victronenergy.battery.socketcan_can0";

Deno.test("dbus get: the type/instance form that dbus list prints, --json (own and global)", async () => {
  const r = await rig();
  try {
    const list = await runCli(["dbus", "list", "--bus", r.bus.address]);
    assert.equal(list.code, 0, list.stderr);
    const line = list.stdout.split("\n").find((l) => l.startsWith(BATTERY))!;
    const ref = line.split(/\s+/)[1];
    assert.equal(ref, "battery/512");

    const a = await runCli(["dbus", "get", ref, "/Dc/0/Voltage", "--bus", r.bus.address, "--json"]);
    assert.equal(a.code, 0, a.stderr);
    assert.deepEqual(JSON.parse(a.stdout), {
      service: BATTERY,
      path: "/Dc/0/Voltage",
      value: 52.1,
      text: "52.1V",
    });

    // the path appended to the reference, and the global --json
    const b = await runCli(["--json", "dbus", "get", `${ref}/Soc`, "--bus", r.bus.address]);
    assert.equal(b.code, 0, b.stderr);
    assert.deepEqual(JSON.parse(b.stdout), { service: BATTERY, path: "/Soc", value: 87.5, text: "87.5%" });

    // today's forms still work: the type alone, the bus name
    const c = await runCli(["dbus", "get", "vebus", "/Mode", "--bus", r.bus.address]);
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout, /^3\b/);
    const d = await runCli(["dbus", "get", BATTERY, "/Soc", "--bus", r.bus.address, "--json"]);
    assert.equal(JSON.parse(d.stdout).value, 87.5);

    // an instance nobody has: the device answered "no such service" (exit 6), naming it
    const e = await runCli(["dbus", "get", "battery/7", "/Soc", "--bus", r.bus.address]);
    assert.equal(e.code, 6);
    assert.match(e.stderr, /battery\/7/);
    // the path twice is a usage error
    const f = await runCli(["dbus", "get", "battery/512/Soc", "/Soc", "--bus", r.bus.address]);
    assert.equal(f.code, 2);
    assert.match(f.stderr, /got "\/Soc"/);
  } finally {
    await r.stop();
  }
});

Deno.test("dbus and sim venus --help show examples", async () => {
  for (const cmd of [["dbus", "get"], ["dbus", "list"], ["sim", "venus"]]) {
    const r = await runCli([...cmd, "--help"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Examples:\n {2}\$ ess2mqtt /, cmd.join(" "));
  }
});
