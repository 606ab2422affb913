// The inverter clock: registers 12–14 (spec §2.3, §2.9, §4), drift in the host's local wall time (DST from
// the host's zone rules), write-multi through the client, `ess2mqtt time get|set|sync` against the
// simulator's clock, and the `[lxp] time_sync = daily` schedule with an injected clock and timer.

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type ClockFields,
  clockWriteRequest,
  decodeClock,
  driftSeconds,
  encodeClock,
  formatClock,
  localFields,
  parseClock,
} from "../src/lxp/clock.ts";
import { ClockSync } from "../src/lxp/clock_sync.ts";
import { lxpClientTransport } from "../src/lxp/transport.ts";
import { encodePacket, FN_WRITE_MULTI, fromHex } from "../src/lxp/frame.ts";
import { LxpClient } from "../src/lxp/client.ts";
import { memoryLogger, silentLogger } from "../src/log.ts";
import { V } from "./fixtures/lxp_vectors.ts";
import { runCli } from "./helpers/cli.ts";
import {
  startTestSimulator,
  TEST_DATALOG as DATALOG,
  TEST_SERIAL as SERIAL,
} from "./helpers/inverter_sim.ts";
import { until } from "./helpers/wait.ts";

Deno.test("clock registers: spec §2.3 reply 1558, 1300, 14608 = 2022-06-20 05:16:57", () => {
  assert.deepEqual(decodeClock([1558, 1300, 14608]), {
    year: 2022,
    month: 6,
    day: 20,
    hour: 5,
    minute: 16,
    second: 57,
  });
});

Deno.test("clock write: spec §2.9 write-multi request bytes for 22-06-19 20:23:33", () => {
  const fields = { year: 2022, month: 6, day: 19, hour: 20, minute: 23, second: 33 };
  const bytes = encodePacket(clockWriteRequest({ datalog: "2222222222", serial: "5555555555", fields }));
  assert.deepEqual(bytes, fromHex(V.writeMulti12Request.replaceAll(" ", "")));
});

Deno.test("clock: impossible times are refused, naming the value", () => {
  assert.equal(
    decodeClock([22 | (13 << 8), 1 | (0 << 8), 0]),
    "inverter clock registers [3350, 1, 0]: month 13 is not 1–12",
  );
  assert.equal(parseClock("2026-02-29 10:00:00"), 'day 29 is not 1–28 in "2026-02-29 10:00:00"');
  assert.equal(parseClock("2026-01-01 24:00"), 'hour 24 is not 0–23 in "2026-01-01 24:00"');
  assert.equal(parseClock("yesterday"), '"yesterday" is not YYYY-MM-DD HH:MM:SS');
  assert.throws(
    () => encodeClock({ year: 1999, month: 1, day: 1, hour: 0, minute: 0, second: 0 }),
    /year 1999/,
  );
  assert.deepEqual(parseClock("2024-02-29T23:59"), {
    year: 2024,
    month: 2,
    day: 29,
    hour: 23,
    minute: 59,
    second: 0,
  });
});

Deno.test("property: encode → decode round trip; format → parse round trip", () => {
  const fields = fc.date({
    min: new Date(Date.UTC(2000, 0, 1)),
    max: new Date(Date.UTC(2255, 11, 31)),
    noInvalidDate: true,
  })
    .map((d): ClockFields => ({
      year: d.getUTCFullYear(),
      month: d.getUTCMonth() + 1,
      day: d.getUTCDate(),
      hour: d.getUTCHours(),
      minute: d.getUTCMinutes(),
      second: d.getUTCSeconds(),
    }));
  fc.assert(fc.property(fields, (f) => {
    assert.deepEqual(decodeClock(encodeClock(f)), f);
    assert.deepEqual(parseClock(formatClock(f)), f);
  }));
});

Deno.test("drift is inverter minus host local wall time, in seconds", () => {
  const host = new Date(2026, 5, 1, 12, 0, 0);
  assert.equal(driftSeconds(localFields(new Date(host.getTime() + 90_000)), host), 90);
  assert.equal(driftSeconds(localFields(new Date(host.getTime() - 5_000)), host), -5);
});

Deno.test("DST: the inverter follows the host's local wall time across a change (TZ=Europe/London)", async () => {
  // 2026-03-29 01:00 UTC: UK clocks go 01:00 GMT → 02:00 BST. A process in that zone sees the jump.
  const code = `
    import { driftSeconds, localFields } from ${
    JSON.stringify(new URL("../src/lxp/clock.ts", import.meta.url).href)
  };
    const before = new Date(Date.UTC(2026, 2, 29, 0, 59, 0)), after = new Date(Date.UTC(2026, 2, 29, 1, 1, 0));
    console.log(JSON.stringify({ before: localFields(before), after: localFields(after),
      drift: driftSeconds(localFields(before), after) }));`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-config", code],
    env: { TZ: "Europe/London" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const r = JSON.parse(new TextDecoder().decode(out.stdout));
  assert.deepEqual([r.before.hour, r.before.minute], [0, 59]);
  assert.deepEqual([r.after.hour, r.after.minute], [2, 1], "after the change the wall clock reads BST");
  // An inverter still on GMT is an hour (minus the 2 minutes) behind: a sync sets it.
  assert.equal(r.drift, -(3600 + 120));
});

Deno.test("LxpClient.writeMulti sends the spec §2.9 bytes and resolves on the count echo", async () => {
  const { sim, port } = await startTestSimulator({ datalog: "2222222222", serial: "5555555555" });
  const client = new LxpClient(
    { host: "127.0.0.1", port, datalog: "2222222222", serial: "5555555555" },
    silentLogger,
  );
  const out: Uint8Array[] = [];
  client.onWire((dir, bytes) => dir === "out" && out.push(bytes));
  try {
    client.start();
    await client.waitConnected(5000);
    const fields = { year: 2022, month: 6, day: 19, hour: 20, minute: 23, second: 33 };
    await client.writeMulti(12, encodeClock(fields));
    assert.deepEqual(out, [fromHex(V.writeMulti12Request.replaceAll(" ", ""))]);
    sim.setFaults({ exceptionRegisters: [13] });
    await assert.rejects(client.writeMulti(12, encodeClock(fields)), /write multi 12: inverter answered/);
  } finally {
    await client.stop();
    await sim.stop();
  }
});

Deno.test("time sync: registers holding no valid time are always set", async () => {
  const { sim, port } = await startTestSimulator({ physics: false });
  const args = ["--host", "127.0.0.1", "--port", String(port), "--datalog", DATALOG, "--serial", SERIAL];
  try {
    sim.holdings[12] = 26; // month 0
    const r = await runCli(["--json", "time", "sync", "--threshold", "3600", ...args]);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.synced, true);
    assert.equal(doc.inverter, null);
    assert.match(doc.invalid, /month 0 is not 1–12/);
    assert.equal(sim.holdings[12] >> 8, localFields(new Date()).month);
  } finally {
    await sim.stop();
  }
});

Deno.test("time get/set/sync against the simulator's clock", async (t) => {
  const { sim, port } = await startTestSimulator();
  const args = ["--host", "127.0.0.1", "--port", String(port), "--datalog", DATALOG, "--serial", SERIAL];
  try {
    await t.step("time set: one write-multi of 12–14 with [yy, mm, dd, hh, mi, ss]", async () => {
      const from = sim.received.length;
      const r = await runCli(["time", "set", "2024-02-29 23:59:30", ...args]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "inverter clock := 2024-02-29 23:59:30: OK\n");
      const sent = sim.received.slice(from);
      assert.equal(sent.length, 1);
      assert.equal(sent[0].fn, FN_WRITE_MULTI);
      assert.equal(sent[0].register, 12);
      assert.deepEqual(sent[0].values, [24 | (2 << 8), 29 | (23 << 8), 59 | (30 << 8)]);
    });

    await t.step("time get: the simulator's clock runs on from what was set", async () => {
      const r = await runCli(["--json", "time", "get", ...args]);
      assert.equal(r.code, 0, r.stderr);
      const doc = JSON.parse(r.stdout);
      assert.match(doc.inverter, /^(2024-02-29 23:59:[3-5]\d|2024-03-01 00:00:\d\d)$/);
      assert.ok(doc.drift_s < -3e7, `drift ${doc.drift_s}`); // about 2.75 years behind
    });

    await t.step("time sync: sets host time when the drift exceeds --threshold, else leaves it", async () => {
      const r = await runCli(["--json", "time", "sync", "--threshold", "60", ...args]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).synced, true);
      const g = JSON.parse((await runCli(["--json", "time", "get", ...args])).stdout);
      assert.ok(Math.abs(g.drift_s) <= 2, `drift after sync ${g.drift_s}`);
      const from = sim.received.length;
      const again = JSON.parse(
        (await runCli(["--json", "time", "sync", "--threshold", "60", ...args])).stdout,
      );
      assert.equal(again.synced, false);
      assert.equal(sim.received.slice(from).filter((p) => p.fn === FN_WRITE_MULTI).length, 0);
    });

    await t.step("bad time: exit 2, nothing sent", async () => {
      const from = sim.received.length;
      const r = await runCli(["time", "set", "2024-13-01 00:00", ...args]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /month 13 is not 1–12/);
      assert.equal(sim.received.length, from);
    });
  } finally {
    await sim.stop();
  }
});

Deno.test("[lxp] time_sync = daily: checks on link up and then daily, sets only beyond the threshold", async () => {
  let simAhead = 300_000; // the inverter runs 5 minutes fast
  const { sim, port } = await startTestSimulator({ clock: () => new Date(Date.now() + simAhead) });
  const client = new LxpClient({ host: "127.0.0.1", port, datalog: DATALOG, serial: SERIAL }, silentLogger);
  const mem = memoryLogger("debug");
  let daily: (() => void) | undefined;
  const sync = new ClockSync({
    port: lxpClientTransport(client, () => Promise.resolve()),
    link: client,
    thresholdS: 60,
    now: () => new Date(),
    every: (fn) => {
      daily = fn;
      return () => (daily = undefined);
    },
    logger: mem.logger,
  });
  const writes = () => sim.received.filter((p) => p.fn === FN_WRITE_MULTI).length;
  try {
    sync.start();
    client.start();
    await until(() => sync.stats.checks === 1 && sync.stats.syncs === 1, "first check on link up");
    await sync.idle();
    assert.equal(writes(), 1);
    const set = mem.entries.find((e) => e.msg === "inverter clock set to host local time");
    assert.ok(set, "the sync is logged");
    assert.ok(Math.abs((set.fields?.drift_s as number) - 300) <= 2, JSON.stringify(set.fields));

    // A day later the inverter has gained 30 s: within the threshold, nothing written.
    simAhead += 30_000;
    daily!();
    await until(() => sync.stats.checks === 2, "second check");
    await sync.idle();
    assert.equal(writes(), 1);
    assert.ok(mem.entries.some((e) => e.msg === "inverter clock within threshold"));

    // Another day: 90 s more → beyond 60 s → set.
    simAhead += 90_000;
    daily!();
    await until(() => sync.stats.checks === 3, "third check");
    await sync.idle();
    assert.equal(writes(), 2);
    assert.equal(sync.stats.syncs, 2);
  } finally {
    await sync.stop();
    await client.stop();
    await sim.stop();
  }
});
