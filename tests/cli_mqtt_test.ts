// Integration: the one-shot register commands with --via mqtt, through a real `serve`, mosquitto and the
// inverter simulator; same output, --json and exit codes as --via lxp.

import assert from "node:assert/strict";
import { freePort, startMosquitto } from "./helpers/mosquitto.ts";
import { runCli, spawnCli, writeConfig } from "./helpers/cli.ts";
import {
  startTestSimulator,
  TEST_DATALOG as DATALOG,
  TEST_SERIAL as SERIAL,
} from "./helpers/inverter_sim.ts";

Deno.test("one-shot commands over MQTT match the LXP transport", async (t) => {
  const { sim, port: simPort } = await startTestSimulator({ faults: { exceptionRegisters: [200] } });
  const mosq = await startMosquitto();
  const serveCfg = await writeConfig(
    `[mqtt]\nuri = ${mosq.url}\n[lxp]\nhost = 127.0.0.1\nport = ${simPort}\nserial = ${SERIAL}\ndatalog = ${DATALOG}\ncommand_timeout = 3\n`,
  );
  // what a script on another machine has: only the broker
  const clientCfg = await writeConfig(`[mqtt]\nuri = ${mosq.url}\n`);
  const serve = spawnCli(["-c", serveCfg.path, "serve"]);
  const lxpArgs = [
    "--host",
    "127.0.0.1",
    "--port",
    String(simPort),
    "--datalog",
    DATALOG,
    "--serial",
    SERIAL,
  ];
  try {
    await serve.waitFor((l) => l.includes("connected to dongle"));

    await t.step(
      "read-hold 64 --count 3: same human output and --json as --via lxp (default transport is mqtt)",
      async () => {
        const viaMqtt = await runCli(["-c", clientCfg.path, "read-hold", "64", "--count", "3"]);
        assert.equal(viaMqtt.code, 0, viaMqtt.stderr);
        const viaLxp = await runCli(["read-hold", "64", "--count", "3", ...lxpArgs]);
        assert.equal(viaLxp.code, 0, viaLxp.stderr);
        assert.equal(viaMqtt.stdout, viaLxp.stdout);
        const jm = await runCli(["-c", clientCfg.path, "--json", "read-hold", "64", "--count", "3"]);
        const jl = await runCli(["--json", "read-hold", "64", "--count", "3", ...lxpArgs]);
        assert.deepEqual(JSON.parse(jm.stdout), JSON.parse(jl.stdout));
      },
    );

    await t.step("write-hold and set over MQTT change the inverter", async () => {
      const w = await runCli(["-c", clientCfg.path, "write-hold", "66", "77", "--via", "mqtt"]);
      assert.equal(w.code, 0, w.stderr);
      assert.equal(sim.holdings[66], 77);
      const s = await runCli(["-c", clientCfg.path, "set", "discharge_pct", "33"]);
      assert.equal(s.code, 0, s.stderr);
      assert.equal(sim.holdings[65], 33);
      const before = sim.holdings[21];
      const a = await runCli(["-c", clientCfg.path, "--json", "set", "ac_charge", "on"]);
      assert.equal(a.code, 0, a.stderr);
      assert.equal(sim.holdings[21], before | 0x80);
      assert.deepEqual(JSON.parse(a.stdout), {
        ok: true,
        command: "ac_charge",
        value: true,
        register: 21,
        bit: 7,
        result: before | 0x80,
      });
    });

    await t.step("read-input 1 over MQTT prints the bridge's inputs/1 JSON", async () => {
      const r = await runCli(["-c", clientCfg.path, "--json", "read-input", "1"]);
      assert.equal(r.code, 0, r.stderr);
      const doc = JSON.parse(r.stdout);
      assert.equal(doc.block, 1);
      assert.deepEqual(Object.keys(doc.inputs).slice(0, 3), ["status", "v_bat", "soc"]);
      // the same document shape and keys as over LXP
      const lxp = await runCli(["--json", "read-input", "1", ...lxpArgs]);
      assert.equal(lxp.code, 0, lxp.stderr);
      const lxpDoc = JSON.parse(lxp.stdout);
      assert.deepEqual(Object.keys(doc), Object.keys(lxpDoc));
      assert.deepEqual(Object.keys(doc.inputs), Object.keys(lxpDoc.inputs));
      const human = await runCli(["-c", clientCfg.path, "read-input", "1"]);
      assert.match(human.stdout, /^v_bat +\d+(\.\d+)? V +Battery voltage$/m);
    });

    await t.step("bad value: exit 2, nothing published or written", async () => {
      const writes = sim.stats.writes;
      const r = await runCli(["-c", clientCfg.path, "set", "discharge_pct", "150"]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /"150"/);
      assert.equal(sim.stats.writes, writes);
    });

    await t.step("exception reply → bridge FAIL → exit 6", async () => {
      const r = await runCli(["-c", clientCfg.path, "read-hold", "200"]);
      assert.equal(r.code, 6, r.stderr);
      assert.match(r.stderr, /FAIL/);
    });
  } finally {
    await serve.stop();
    await sim.stop();
    await mosq.stop();
    await serveCfg.remove();
    await clientCfg.remove();
  }
});

Deno.test("--via mqtt: broker unreachable → exit 5; no bridge answering → exit 4", async () => {
  const cfg = await writeConfig(`[mqtt]\nuri = mqtt://127.0.0.1:${freePort()}\n`);
  const mosq = await startMosquitto();
  const cfg2 = await writeConfig(`[mqtt]\nuri = ${mosq.url}\n`);
  try {
    // refused: exit 5 at once, not after --timeout (runCli kills at 30 s, which would not be exit 5)
    const r = await runCli(["-c", cfg.path, "read-hold", "21", "--timeout", "600"]);
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stderr, /refused the connection/);
    // --broker names the broker (no config needed) and implies --via mqtt
    const b = await runCli(["read-hold", "21", "--broker", mosq.url, "--timeout", "1", "--json"]);
    assert.equal(b.code, 4, b.stderr);
    assert.deepEqual(JSON.parse(b.stdout), {
      error: {
        code: 4,
        message:
          `no octolux/result/read_hold within 1 s from ${mosq.url} (is ess2mqtt serve running with [lxp] configured?)`,
      },
    });
    const bad = await runCli(["read-hold", "21", "--broker", "ftp://x"]);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /unsupported scheme "ftp"/);
    const r2 = await runCli(["-c", cfg2.path, "read-hold", "21", "--timeout", "1"]);
    assert.equal(r2.code, 4, r2.stderr);
    assert.match(r2.stderr, /no octolux\/result\/read_hold within 1 s/);
  } finally {
    await mosq.stop();
    await cfg.remove();
    await cfg2.remove();
  }
});
