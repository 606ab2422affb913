// Integration: the real `ess2mqtt serve` binary between the inverter simulator (real TCP) and a real
// mosquitto, driven with the seed's own mosquitto_pub/mosquitto_sub commands.

import assert from "node:assert/strict";
import type { InverterSimulator } from "../src/sim/inverter.ts";
import { LxpClient } from "../src/lxp/client.ts";
import { MqttLink } from "../src/mqtt/client.ts";
import { silentLogger } from "../src/log.ts";
import { freePort, mosquittoPub, mosquittoSub, startMosquitto } from "./helpers/mosquitto.ts";
import { spawnCli, writeConfig } from "./helpers/cli.ts";
import { until } from "./helpers/wait.ts";
import {
  startTestSimulator,
  TEST_DATALOG as DATALOG,
  TEST_SERIAL as SERIAL,
} from "./helpers/inverter_sim.ts";

const SEED_KEYS: Record<string, string[]> = {
  "1": [
    "status",
    "v_bat",
    "soc",
    "p_pv",
    "p_charge",
    "p_discharge",
    "v_acr",
    "f_ac",
    "p_inv",
    "p_rec",
    "v_eps",
    "f_eps",
    "p_to_grid",
    "p_to_user",
    "e_pv_day",
    "e_inv_day",
    "e_rec_day",
    "e_chg_day",
    "e_dischg_day",
    "e_eps_day",
    "e_to_grid_day",
    "e_to_user_day",
    "v_bus_1",
    "v_bus_2",
  ],
  "2": [
    "e_pv_all",
    "e_inv_all",
    "e_rec_all",
    "e_chg_all",
    "e_dischg_all",
    "e_eps_all",
    "e_to_grid_all",
    "e_to_user_all",
    "t_inner",
    "t_rad_1",
    "t_rad_2",
  ],
  "3": [
    "max_chg_curr",
    "max_dischg_curr",
    "charge_volt_ref",
    "dischg_cut_volt",
    ...Array.from({ length: 10 }, (_, i) => `bat_status_${i}`),
    "bat_status_inv",
  ],
};

interface Rig {
  sim: InverterSimulator;
  simPort: number;
  brokerPort: number;
  serve: ReturnType<typeof spawnCli>;
  sub: ReturnType<typeof mosquittoSub>;
  restartBroker?: () => Promise<void>;
  close(): Promise<void>;
}

async function rig(
  opts: {
    embedded?: boolean;
    interval?: number;
    firmware?: "old" | "new";
    commandTimeout?: number;
    mqttExtra?: string;
    beforeServe?: (brokerPort: number) => Promise<void>;
  } = {},
): Promise<Rig> {
  const { sim, port: simPort } = await startTestSimulator({
    interval: opts.interval ?? 0,
    firmware: opts.firmware,
    seed: 7,
  });
  const mosq = opts.embedded ? undefined : await startMosquitto();
  const brokerPort = mosq?.port ?? freePort();
  const mqttSection = mosq ? `uri = ${mosq.url}` : `listen = 127.0.0.1:${brokerPort}`;
  const cfg = await writeConfig(
    `[mqtt]\n${mqttSection}\n${
      opts.mqttExtra ?? ""
    }\n[lxp]\nhost = 127.0.0.1\nport = ${simPort}\nserial = ${SERIAL}\ndatalog = ${DATALOG}\ncommand_timeout = ${
      opts.commandTimeout ?? 5
    }\n`,
  );
  await opts.beforeServe?.(brokerPort);
  const serve = spawnCli(["-c", cfg.path, "serve"]);
  await serve.waitFor((l) => l.includes("serving"));
  const sub = mosquittoSub(brokerPort, ["octolux/#"]);
  await sub.waitFor((l) => l === "octolux/status online"); // retained: bridge up and dongle link up
  const r: Rig = {
    sim,
    simPort,
    brokerPort,
    serve,
    sub,
    restartBroker: mosq ? () => mosq.restart() : undefined,
    async close() {
      await r.sub.stop();
      await serve.stop();
      await sim.stop();
      await mosq?.stop();
      await cfg.remove();
    },
  };
  return r;
}

/** Lines after index `from` that match. */
const after = (sub: Rig["sub"], from: number, pred: (l: string) => boolean) =>
  sub.lines.slice(from).filter(pred);

async function command(r: Rig, cmd: string, payload: string): Promise<string> {
  const from = r.sub.lines.length;
  await mosquittoPub(r.brokerPort, `octolux/cmd/${cmd}`, payload);
  const resultTopic = `octolux/result/${cmd} `;
  const hit = () => r.sub.lines.slice(from).find((l) => l.startsWith(resultTopic));
  await until(
    () => hit() !== undefined,
    `the result of ${cmd}=${payload}`,
    15000,
    () => r.sub.lines.slice(from),
  );
  return hit()!.slice(resultTopic.length);
}

Deno.test("serve + sim + mosquitto: the seed's commands", async (t) => {
  const r = await rig();
  try {
    await t.step("status is online (retained) and the inverter link is online", async () => {
      await r.sub.waitFor((l) => l === "octolux/status online");
    });

    for (const block of ["1", "2", "3"]) {
      await t.step(
        `read_input ${block} → inputs/${block} with exactly the documented keys, then result OK`,
        async () => {
          const from = r.sub.lines.length;
          assert.equal(await command(r, "read_input", block), "OK");
          const lines = after(
            r.sub,
            from,
            (l) => l.startsWith(`octolux/inputs/${block} `) || l.startsWith("octolux/result/read_input "),
          );
          assert.ok(lines[0].startsWith(`octolux/inputs/${block} `), "data is published before the result");
          const json = JSON.parse(lines[0].slice(`octolux/inputs/${block} `.length));
          assert.deepEqual(Object.keys(json).slice(0, SEED_KEYS[block].length), SEED_KEYS[block]);
        },
      );
    }

    await t.step("read_input 4 → inputs/4", async () => {
      const from = r.sub.lines.length;
      assert.equal(await command(r, "read_input", "4"), "OK");
      assert.equal(after(r.sub, from, (l) => l.startsWith("octolux/inputs/4 {")).length, 1);
    });

    await t.step("discharge_pct 50 → result OK and hold/65 50", async () => {
      const from = r.sub.lines.length;
      assert.equal(await command(r, "discharge_pct", "50"), "OK");
      assert.deepEqual(after(r.sub, from, (l) => l.startsWith("octolux/hold/65 ")), ["octolux/hold/65 50"]);
      assert.equal(r.sim.holdings[65], 50);
    });

    await t.step("ac_charge on/off → read-modify-write of hold 21 bit 7 only", async () => {
      const before = r.sim.holdings[21];
      assert.equal(await command(r, "ac_charge", "on"), "OK");
      assert.equal(r.sim.holdings[21], before | 0x80);
      assert.equal(await command(r, "ac_charge", "OFF"), "OK");
      assert.equal(r.sim.holdings[21], before & ~0x80);
      assert.equal(await command(r, "forced_discharge", "yes"), "OK");
      assert.equal(r.sim.holdings[21] & 0x400, 0x400);
      assert.equal(await command(r, "forced_discharge", "nope"), "OK");
      assert.equal(r.sim.holdings[21] & 0x400, 0);
      assert.equal(await command(r, "charge_priority", "T"), "OK");
      assert.equal(r.sim.holdings[21] & 0x800, 0x800);
    });

    await t.step("charge_pct → 64, charge_amount_pct → 67, set_hold/66 → 66", async () => {
      assert.equal(await command(r, "charge_pct", "80"), "OK");
      assert.equal(r.sim.holdings[64], 80);
      assert.equal(await command(r, "charge_amount_pct", "90"), "OK");
      assert.equal(r.sim.holdings[67], 90);
      const from = r.sub.lines.length;
      assert.equal(await command(r, "set_hold/66", "70"), "OK");
      assert.equal(r.sim.holdings[66], 70);
      assert.ok(after(r.sub, from, (l) => l === "octolux/hold/66 70").length === 1);
    });

    await t.step("read_hold 65 and 64,3 publish hold/<reg> then OK", async () => {
      let from = r.sub.lines.length;
      assert.equal(await command(r, "read_hold", "65"), "OK");
      assert.deepEqual(after(r.sub, from, (l) => l.startsWith("octolux/hold/")), ["octolux/hold/65 50"]);
      from = r.sub.lines.length;
      assert.equal(await command(r, "read_hold", "64,3"), "OK");
      assert.deepEqual(after(r.sub, from, (l) => l.startsWith("octolux/hold/")), [
        "octolux/hold/64 80",
        "octolux/hold/65 50",
        "octolux/hold/66 70",
      ]);
    });

    await t.step(
      "a write made by a second client straight to the dongle shows up on hold/<reg>",
      async () => {
        const port = r.simPort;
        const client = new LxpClient(
          { host: "127.0.0.1", port, datalog: DATALOG, serial: SERIAL },
          silentLogger,
        );
        client.start();
        try {
          await client.waitConnected(5000);
          const from = r.sub.lines.length;
          await client.writeHold(105, 20);
          await r.sub.waitFor((l) => l === "octolux/hold/105 20" && r.sub.lines.indexOf(l) >= from);
          await client.readHold(160, 2);
          await r.sub.waitFor((l) => l.startsWith("octolux/hold/161 "));
        } finally {
          await client.stop();
        }
      },
    );

    await t.step(
      "bad payloads → FAIL, a warning naming topic and payload, and nothing is written",
      async () => {
        const writesBefore = r.sim.stats.writes;
        const value65 = r.sim.holdings[65];
        for (const bad of ["abc", "150", "-1", "50.5", ""]) {
          assert.equal(
            await command(r, "discharge_pct", bad),
            "FAIL",
            `discharge_pct=${JSON.stringify(bad)}`,
          );
          await r.serve.waitFor((l) =>
            l.includes("rejected command") && l.includes("octolux/cmd/discharge_pct") &&
            l.includes(`"payload":${JSON.stringify(bad)}`)
          );
        }
        assert.equal(await command(r, "read_input", "7"), "FAIL");
        assert.equal(await command(r, "read_hold", "x"), "FAIL");
        assert.equal(await command(r, "set_hold/66", "70000"), "FAIL");
        assert.equal(await command(r, "set_hold/abc", "1"), "FAIL");
        assert.equal(r.sim.stats.writes, writesBefore);
        assert.equal(r.sim.holdings[65], value65);
      },
    );

    await t.step("unknown cmd topics are logged and ignored", async () => {
      const from = r.sub.lines.length;
      await mosquittoPub(r.brokerPort, "octolux/cmd/frobnicate", "1");
      await r.serve.waitFor((l) =>
        l.includes("ignoring unknown command topic") && l.includes("octolux/cmd/frobnicate")
      );
      // the next real command still gets exactly its own result
      assert.equal(await command(r, "discharge_pct", "55"), "OK");
      assert.equal(r.sim.holdings[65], 55);
      assert.deepEqual(after(r.sub, from, (l) => l.startsWith("octolux/result/")), [
        "octolux/result/discharge_pct OK",
      ]);
    });

    await t.step("garbage and bad CRCs on the wire: commands still work", async () => {
      r.sim.setFaults({ garbageProbability: 0.5, badCrcProbability: 0.5, chunk: true });
      for (let i = 0; i < 5; i++) assert.equal(await command(r, "discharge_pct", String(60 + i)), "OK");
      assert.equal(r.sim.holdings[65], 64);
      r.sim.setFaults({ garbageProbability: 0, badCrcProbability: 0, chunk: false });
    });

    await t.step(
      "dongle drops mid-command: that command FAILs once, the bridge reconnects and serves the next",
      async () => {
        r.sim.setFaults({ dropProbability: 1 });
        assert.equal(await command(r, "read_hold", "21"), "FAIL");
        r.sim.setFaults({ dropProbability: 0 });
        await r.sub.waitFor((l) => l === "octolux/status inverter_offline");
        await r.sub.waitFor((l) => l === "octolux/inverter offline");
        await until(
          () =>
            r.sub.lines.slice(r.sub.lines.lastIndexOf("octolux/status inverter_offline")).includes(
              "octolux/status online",
            ),
          "the link to come back",
          15000,
        );
        assert.equal(await command(r, "discharge_pct", "70"), "OK");
        assert.equal(r.sim.holdings[65], 70);
      },
    );

    await t.step("broker restart: reconnect, resubscribe, republish retained status", async () => {
      await r.sub.stop();
      await r.restartBroker!();
      const sub = mosquittoSub(r.brokerPort, ["octolux/#"]);
      r.sub = sub;
      await sub.waitFor((l) => l === "octolux/status online", 20000);
      assert.equal(await command(r, "discharge_pct", "71"), "OK");
      assert.equal(r.sim.holdings[65], 71);
    });
  } finally {
    await r.close();
  }
});

Deno.test("storm: 1,000 mixed commands are each answered exactly once, in order", async () => {
  const r = await rig();
  const link = new MqttLink({ uri: `mqtt://127.0.0.1:${r.brokerPort}` }, silentLogger);
  try {
    await link.start();
    const results: string[] = [];
    link.subscribe(
      "octolux/result/#",
      (m) =>
        results.push(`${m.topic.slice("octolux/result/".length)} ${new TextDecoder().decode(m.payload)}`),
    );
    // fence: once a marker published on the result topics comes back, the subscription is active
    await link.publishAsync("octolux/result/fence", "1", { qos: 1 });
    await until(() => results.includes("fence 1"), "the subscription fence");
    results.length = 0;
    const expected: string[] = [];
    const kinds = [
      (i: number) => ["discharge_pct", String(i % 101), "OK"],
      (i: number) => ["charge_pct", String(100 - (i % 101)), "OK"],
      (i: number) => ["ac_charge", i % 2 ? "on" : "off", "OK"],
      (i: number) => ["read_hold", String(60 + (i % 10)), "OK"],
      (i: number) => ["set_hold/66", String(i % 100), "OK"],
      (i: number) => ["discharge_pct", i % 2 ? "abc" : "101", "FAIL"],
      (i: number) => ["read_input", String((i % 4) + 1), "OK"],
    ];
    for (let i = 0; i < 1000; i++) {
      const [cmd, payload, result] = kinds[i % kinds.length](i);
      expected.push(`${cmd} ${result}`);
      await link.publishAsync(`octolux/cmd/${cmd}`, payload, { qos: 1 });
    }
    await until(() => results.length >= 1000, "1000 results", 120000, () => results.length);
    // fence: one more command; its result is published by serve after any duplicate of an earlier one
    await link.publishAsync("octolux/cmd/read_hold", "1", { qos: 1 });
    await until(() => results.at(-1) === "read_hold OK", "the fence command's result");
    assert.deepEqual(results, [...expected, "read_hold OK"]);
    // the last discharge_pct that was valid: i = 994 (994 % 7 == 0) → 994 % 101 = 85
    assert.equal(r.sim.holdings[65], 994 % 101);
  } finally {
    await link.stop();
    await r.close();
  }
});

Deno.test("a retained command is ignored with a warning and never executed (replayed on subscribe or delivered live)", async () => {
  const r = await rig({
    beforeServe: (port) => mosquittoPub(port, "octolux/cmd/discharge_pct", "10", ["-r"]),
  });
  try {
    await r.serve.waitFor((l) =>
      l.includes("ignoring retained command") && l.includes("octolux/cmd/discharge_pct")
    );
    assert.equal(await command(r, "read_hold", "65"), "OK");
    assert.notEqual(r.sim.holdings[65], 10);
    assert.equal(r.sim.stats.writes, 0);
    assert.deepEqual(r.sub.lines.filter((l) => l.startsWith("octolux/result/")), [
      "octolux/result/read_hold OK",
    ]);
    // published retained while serve is connected (delivered live): ignored too (MQTT 5 retain-as-published)
    const warnings = () => r.serve.lines.filter((l) => l.includes("ignoring retained command")).length;
    const seen = warnings();
    await mosquittoPub(r.brokerPort, "octolux/cmd/discharge_pct", "11", ["-r"]);
    await r.serve.waitFor(() => warnings() > seen);
    // fence: a later command's result comes after anything the retained one could have caused
    assert.equal(await command(r, "read_hold", "66"), "OK");
    assert.equal(r.sim.stats.writes, 0);
    assert.deepEqual(r.sub.lines.filter((l) => l.startsWith("octolux/result/")), [
      "octolux/result/read_hold OK",
      "octolux/result/read_hold OK",
    ]);
  } finally {
    await mosquittoPub(r.brokerPort, "octolux/cmd/discharge_pct", "", ["-r"]); // clear the retained command
    await r.close();
  }
});

Deno.test("embedded broker: serve with no [mqtt] uri works with mosquitto_pub/sub; HA discovery is retained", async () => {
  const r = await rig({ embedded: true, mqttExtra: "discovery = true\ndiscovery_mode = entity" });
  const ha = mosquittoSub(r.brokerPort, ["homeassistant/#"]);
  try {
    const line = await ha.waitFor((l) =>
      l.startsWith("homeassistant/switch/ess2mqtt_ba12345678/ac_charge/config ")
    );
    assert.equal(JSON.parse(line.slice(line.indexOf(" ") + 1)).command_topic, "octolux/cmd/ac_charge");
    await ha.waitFor((l) => l.startsWith("homeassistant/sensor/ess2mqtt_ba12345678/v_bat/config "));
    assert.equal(await command(r, "discharge_pct", "42"), "OK");
    assert.equal(r.sim.holdings[65], 42);
    assert.equal(await command(r, "read_input", "1"), "OK");
  } finally {
    await ha.stop();
    await r.close();
  }
});

Deno.test("broadcasts: old firmware (3 blocks) and new firmware (one 0–126 frame) both publish inputs/1..3", async () => {
  for (const firmware of ["old", "new"] as const) {
    const r = await rig({ interval: 1, firmware });
    try {
      for (const block of ["1", "2", "3"]) {
        const line = await r.sub.waitFor((l) => l.startsWith(`octolux/inputs/${block} `), 15000);
        const json = JSON.parse(line.slice(`octolux/inputs/${block} `.length));
        assert.deepEqual(
          Object.keys(json).slice(0, SEED_KEYS[block].length),
          SEED_KEYS[block],
          `${firmware} block ${block}`,
        );
      }
    } finally {
      await r.close();
    }
  }
});

Deno.test("serve verifies writes: a garbled, dropped or truncated echo → OK (read back); a lost write → FAIL with hold/<reg> as read", async () => {
  const r = await rig({ commandTimeout: 2 }); // request timeout 1 s, then read back until 2 s
  const confirmations = () => r.serve.lines.filter((l) => l.includes("write confirmed by read-back")).length;
  const holds = (from: number, reg: number) =>
    after(r.sub, from, (l) => l.startsWith(`octolux/hold/${reg} `));
  const writes = (reg: number) => r.sim.writeLog.filter((w) => w.register === reg);
  try {
    // sim inverter --corrupt-echo: the echo carries value XOR 1
    r.sim.setFaults({ corruptEcho: true });
    let from = r.sub.lines.length;
    assert.equal(await command(r, "discharge_pct", "33"), "OK");
    assert.equal(r.sim.holdings[65], 33);
    assert.equal(holds(from, 65).at(-1), "octolux/hold/65 33", "the value read back is the last word");
    await r.serve.waitFor(() => confirmations() === 1);
    // a dropped echo, a plain write and a bit command
    r.sim.setFaults({ corruptEcho: false, dropEchoProbability: 1 });
    assert.equal(await command(r, "charge_pct", "44"), "OK");
    assert.equal(await command(r, "ac_charge", "on"), "OK");
    assert.equal(r.sim.holdings[21] & 0x80, 0x80);
    await r.serve.waitFor(() => confirmations() === 3);
    assert.equal(writes(64).length, 1, "never a second write");
    assert.equal(writes(21).length, 1, "never a second write");
    // 60 truncated bytes, then the correct echo: confirmed by the echo, no read-back
    r.sim.setFaults({ dropEchoProbability: 0, truncateBeforeReplyProbability: 1 });
    for (const v of ["34", "35", "36"]) assert.equal(await command(r, "discharge_pct", v), "OK");
    r.sim.setFaults({ truncateBeforeReplyProbability: 0 });
    // a write that never reaches the inverter: FAIL, and hold/65 carries what the register really holds
    r.sim.setFaults({ skipRequests: 1 });
    from = r.sub.lines.length;
    assert.equal(await command(r, "discharge_pct", "37"), "FAIL");
    assert.equal(r.sim.holdings[65], 36);
    assert.deepEqual(holds(from, 65), ["octolux/hold/65 36"]);
    assert.deepEqual(writes(65).map((w) => [w.value, w.executed]), [
      [33, true],
      [34, true],
      [35, true],
      [36, true],
      [37, false],
    ]);
    // fence through serve: its next result comes after any stray result of the commands above
    assert.equal(await command(r, "read_hold", "1"), "OK");
    assert.equal(confirmations(), 3, "the truncated echoes needed no read-back");
    const results = r.sub.lines.filter((l) => l.startsWith("octolux/result/"));
    assert.equal(results.length, 8, results.join("\n"));
  } finally {
    await r.close();
  }
});
