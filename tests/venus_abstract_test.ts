// [dbus] address = unix:abstract=… against a real dbus-daemon listening on an abstract socket
// (dbus-next's native addon for it can't load in Deno; the address is rewritten for node:net).

import assert from "node:assert/strict";
import { DbusLink } from "../src/venus/link.ts";
import { VenusSim } from "../src/sim/venus.ts";
import { silentLogger } from "../src/log.ts";
import { startDbusDaemon } from "./helpers/dbus_daemon.ts";

Deno.test("unix:abstract= bus address: discovery and values over an abstract socket", async () => {
  const bus = await startDbusDaemon({ abstract: true });
  const sim = new VenusSim({ address: bus.address, logger: silentLogger, tickMs: 0 });
  const link = new DbusLink({ address: bus.address, callTimeoutMs: 2000 }, silentLogger, {
    serviceAdded: () => {},
    serviceRemoved: () => {},
    valueChanged: () => {},
    linkChanged: () => {},
  });
  try {
    assert.match(bus.address, /^unix:abstract=/);
    await sim.start();
    await link.start();
    assert.equal(link.services.size, 5);
  } finally {
    await link.stop();
    await sim.stop();
    await bus.stop();
  }
});
