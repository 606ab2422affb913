// Time-of-use slots end to end: the plan (exact registers from spec §4), `cmd/<kind>_slot/<n>` through a real
// `serve` + mosquitto + the inverter simulator (writes, retained slot/<kind>/<n>, refusals, read-back on
// failure), and `ess2mqtt slot get|set` over both transports with the same output.

import assert from "node:assert/strict";
import { until } from "./helpers/wait.ts";
import { planCommand } from "../src/lxp/commands.ts";
import { LxpClient } from "../src/lxp/client.ts";
import { silentLogger } from "../src/log.ts";
import { FN_READ_HOLD, FN_READ_INPUT, FN_WRITE_SINGLE } from "../src/lxp/frame.ts";
import { mosquittoPub, mosquittoSub, startMosquitto } from "./helpers/mosquitto.ts";
import { runCli, spawnCli, writeConfig } from "./helpers/cli.ts";
import {
  startTestSimulator,
  TEST_DATALOG as DATALOG,
  TEST_SERIAL as SERIAL,
} from "./helpers/inverter_sim.ts";

// spec §4: AC charge 68/69, 70/71, 72/73; charge priority 76/77, 78/79, 80/81; forced discharge 84/85,
// 86/87, 88/89; AC first 152/153, 154/155, 156/157; value = hour + 256·minute.
const SPEC_REGISTERS: Record<string, [number, number][]> = {
  ac_charge: [[68, 69], [70, 71], [72, 73]],
  charge_priority: [[76, 77], [78, 79], [80, 81]],
  forced_discharge: [[84, 85], [86, 87], [88, 89]],
  ac_first: [[152, 153], [154, 155], [156, 157]],
};

Deno.test("plan: <kind>_slot/<n> writes the spec's two registers with hour + 256·minute", () => {
  for (const [kind, slots] of Object.entries(SPEC_REGISTERS)) {
    slots.forEach(([start, end], i) => {
      const r = planCommand(`${kind}_slot/${i + 1}`, "23:30-05:45");
      assert.deepEqual(r, {
        ok: true,
        plan: {
          kind: "writeSlot",
          slot: kind,
          n: i + 1,
          start,
          end,
          startValue: 23 + 256 * 30,
          endValue: 5 + 256 * 45,
        },
      });
    });
  }
  const json = planCommand("ac_first_slot/3", '{"start":"00:00","end":"23:59"}');
  assert.ok(json.ok && json.plan.kind === "writeSlot");
  assert.equal(json.plan.startValue, 0);
  assert.equal(json.plan.endValue, 23 + 256 * 59);
});

Deno.test("plan: bad times and slot numbers are refused, naming the value", () => {
  const bad: [string, string, string][] = [
    ["ac_charge_slot/1", "25:00-06:00", 'hour 25 in "25:00" is not 0–23'],
    ["ac_charge_slot/1", "12:60-13:00", 'minute 60 in "12:60" is not 0–59'],
    ["ac_charge_slot/1", "garbage", '"garbage" is not HH:MM-HH:MM'],
    ["ac_charge_slot/1", "", '"" is not HH:MM-HH:MM'],
    ["forced_discharge_slot/2", '{"start":"1:00"}', "needs"],
    ["ac_charge_slot/4", "01:00-02:00", 'slot "4" is not 1, 2 or 3'],
    ["ac_charge_slot/0", "01:00-02:00", 'slot "0" is not 1, 2 or 3'],
  ];
  for (const [name, payload, message] of bad) {
    const r = planCommand(name, payload);
    assert.equal(r.ok, false, `${name} ${payload}`);
    assert.ok(!r.ok && r.error.includes(message), `${name} ${payload}: ${!r.ok && r.error}`);
  }
});

async function rig() {
  const { sim, port: simPort } = await startTestSimulator();
  const mosq = await startMosquitto();
  const cfg = await writeConfig(
    `[mqtt]\nuri = ${mosq.url}\n[lxp]\nhost = 127.0.0.1\nport = ${simPort}\nserial = ${SERIAL}\ndatalog = ${DATALOG}\ncommand_timeout = 3\n`,
  );
  const clientCfg = await writeConfig(`[mqtt]\nuri = ${mosq.url}\n`);
  const serve = spawnCli(["-c", cfg.path, "serve"]);
  await serve.waitFor((l) => l.includes("connected to dongle"));
  const sub = mosquittoSub(mosq.port, ["octolux/#"]);
  await sub.waitFor((l) => l === "octolux/status online");
  // serve reads inputs 1–3 when the link comes up: let those reads pass before counting requests
  await until(() => sim.received.filter((p) => p.fn === FN_READ_INPUT).length >= 3, "the reads on link-up");
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
  return {
    sim,
    simPort,
    mosq,
    sub,
    lxpArgs,
    clientCfg,
    /** Publish a command; resolves with its result payload (the first result/<name> after the publish). */
    async command(name: string, payload: string): Promise<string> {
      const from = sub.lines.length;
      await mosquittoPub(mosq.port, `octolux/cmd/${name}`, payload);
      const line = await sub.waitFor(
        (l) => sub.lines.indexOf(l, from) >= from && l.startsWith(`octolux/result/${name} `),
      );
      return line.slice(`octolux/result/${name} `.length);
    },
    /** The retained value of a topic, as a new subscriber gets it. */
    async retained(topic: string): Promise<string> {
      const out = await new Deno.Command("mosquitto_sub", {
        args: [
          "-h",
          "127.0.0.1",
          "-p",
          String(mosq.port),
          "-t",
          topic,
          "-C",
          "1",
          "-W",
          "5",
          "--retained-only",
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      return new TextDecoder().decode(out.stdout).trim();
    },
    async close() {
      await sub.stop();
      await serve.stop();
      await sim.stop();
      await mosq.stop();
      await cfg.remove();
      await clientCfg.remove();
    },
  };
}

Deno.test("MQTT cmd/<kind>_slot/<n>: both registers written, echo-verified, retained slot state", async (t) => {
  const r = await rig();
  try {
    await t.step(
      "ac_charge_slot/2 22:00-06:15 → exactly writes 70 := 22 and 71 := 6 + 256·15, then OK",
      async () => {
        const from = r.sim.received.length;
        assert.equal(await r.command("ac_charge_slot/2", "22:00-06:15"), "OK");
        const sent = r.sim.received.slice(from).map((p) => [p.fn, p.register, p.value]);
        assert.deepEqual(sent, [[FN_WRITE_SINGLE, 70, 22], [FN_WRITE_SINGLE, 71, 6 + 256 * 15]]);
        assert.equal(await r.retained("octolux/slot/ac_charge/2"), "22:00-06:15");
      },
    );

    await t.step(
      'JSON payload {"start":"16:00","end":"19:30"} → forced_discharge slot 1 (84/85)',
      async () => {
        assert.equal(await r.command("forced_discharge_slot/1", '{"start":"16:00","end":"19:30"}'), "OK");
        assert.equal(r.sim.holdings[84], 16);
        assert.equal(r.sim.holdings[85], 19 + 256 * 30);
        assert.equal(await r.retained("octolux/slot/forced_discharge/1"), "16:00-19:30");
      },
    );

    await t.step("bad times → FAIL, nothing sent to the inverter", async () => {
      for (const payload of ["25:00-01:00", "12:60-13:00", "garbage", '{"start":"01:00"}']) {
        const from = r.sim.received.length;
        assert.equal(await r.command("ac_first_slot/1", payload), "FAIL", payload);
        // Fence: a later command's request reaches the sim; nothing came before it.
        assert.equal(await r.command("read_hold", "0"), "OK");
        const sent = r.sim.received.slice(from).map((p) => [p.fn, p.register]);
        assert.deepEqual(sent, [[FN_READ_HOLD, 0]], payload);
      }
      assert.equal(r.sim.holdings[152], 0);
      assert.equal(r.sim.holdings[153], 0);
    });

    await t.step("a read of a slot's registers (by anyone) republishes slot/<kind>/<n>", async () => {
      r.sim.holdings[78] = 1 + 256 * 2;
      r.sim.holdings[79] = 3 + 256 * 4;
      assert.equal(await r.command("read_hold", "76,6"), "OK");
      await r.sub.waitFor((l) => l === "octolux/slot/charge_priority/2 01:02-03:04");
      assert.equal(await r.retained("octolux/slot/charge_priority/2"), "01:02-03:04");
      assert.equal(await r.retained("octolux/slot/charge_priority/1"), "00:00-00:00");
    });

    await t.step(
      "another client's read and write of slot registers also update slot/<kind>/<n>",
      async () => {
        const other = new LxpClient({
          host: "127.0.0.1",
          port: r.simPort,
          datalog: DATALOG,
          serial: SERIAL,
        }, silentLogger);
        other.start();
        try {
          await other.waitConnected(5000);
          await other.readHold(152, 6); // the dongle sends the reply to every client, the bridge too
          await r.sub.waitFor((l) => l === "octolux/slot/ac_first/2 00:00-00:00");
          await other.writeHold(154, 7 + 256 * 45);
          await r.sub.waitFor((l) => l === "octolux/slot/ac_first/2 07:45-00:00");
          assert.equal(await r.retained("octolux/slot/ac_first/2"), "07:45-00:00");
        } finally {
          await other.stop();
        }
      },
    );

    await t.step("echo mismatch → FAIL, the slot is read back and its state republished", async () => {
      r.sim.setFaults({ corruptEcho: true });
      const from = r.sim.received.length;
      const subFrom = r.sub.lines.length;
      assert.equal(await r.command("ac_charge_slot/3", "10:00-11:00"), "FAIL");
      r.sim.setFaults({ corruptEcho: false });
      const sent = r.sim.received.slice(from).map((p) => [p.fn, p.register]);
      assert.deepEqual(
        sent,
        [[FN_WRITE_SINGLE, 72], [FN_READ_HOLD, 72]],
        "stops at the bad echo, reads back",
      );
      // The read-back shows what the inverter really holds (start written, end unchanged).
      const state = r.sub.lines.slice(subFrom).filter((l) => l.startsWith("octolux/slot/ac_charge/3 "));
      assert.equal(state.at(-1), "octolux/slot/ac_charge/3 10:00-00:00");
    });

    await t.step("slot set/get: same output over --via lxp and --via mqtt, human and --json", async () => {
      const viaLxp = await runCli(["slot", "set", "ac_charge", "1", "23:30-05:30", ...r.lxpArgs]);
      assert.equal(viaLxp.code, 0, viaLxp.stderr);
      const viaMqtt = await runCli([
        "-c",
        r.clientCfg.path,
        "slot",
        "set",
        "ac_charge",
        "1",
        "23:30-05:30",
        "--via",
        "mqtt",
      ]);
      assert.equal(viaMqtt.code, 0, viaMqtt.stderr);
      assert.equal(viaLxp.stdout, "AC charge slot 1: 23:30-05:30 (hold 68 = 7703, hold 69 = 7685): OK\n");
      assert.equal(viaMqtt.stdout, viaLxp.stdout);
      const jl = await runCli(["--json", "slot", "get", "ac_charge", "1", ...r.lxpArgs]);
      const jm = await runCli([
        "-c",
        r.clientCfg.path,
        "--json",
        "slot",
        "get",
        "ac_charge",
        "1",
        "--via",
        "mqtt",
      ]);
      assert.equal(jl.code, 0, jl.stderr);
      assert.equal(jm.code, 0, jm.stderr);
      const want = {
        kind: "ac_charge",
        n: 1,
        slot: "23:30-05:30",
        start: "23:30",
        end: "05:30",
        registers: { "68": 23 + 256 * 30, "69": 5 + 256 * 30 },
      };
      assert.deepEqual(JSON.parse(jl.stdout), want);
      assert.deepEqual(JSON.parse(jm.stdout), want);
      const gm = await runCli(["-c", r.clientCfg.path, "slot", "get", "ac_charge", "1"]);
      assert.equal(gm.stdout, "AC charge slot 1: 23:30-05:30 (hold 68 = 7703, hold 69 = 7685)\n");
    });

    await t.step("slot set with a bad time or slot: exit 2, nothing sent", async () => {
      const from = r.sim.received.length;
      for (
        const args of [["ac_charge", "1", "24:00-01:00"], ["ac_charge", "4", "01:00-02:00"], [
          "nope",
          "1",
          "01:00-02:00",
        ]]
      ) {
        const res = await runCli(["--json", "slot", "set", ...args, ...r.lxpArgs]);
        assert.equal(res.code, 2, res.stderr);
        assert.equal(JSON.parse(res.stdout).error.code, 2);
      }
      assert.equal(r.sim.received.length, from);
    });

    await t.step(
      "clock over MQTT: cmd/set_clock and `time set|get --via mqtt` (same output as lxp)",
      async () => {
        const from = r.sim.received.length;
        assert.equal(await r.command("set_clock", "2030-01-02 03:04:05"), "OK");
        assert.deepEqual(r.sim.received.slice(from).map((p) => [p.fn, p.register, p.values]), [
          [0x10, 12, [30 | (1 << 8), 2 | (3 << 8), 4 | (5 << 8)]],
        ]);
        assert.equal(await r.command("set_clock", "2030-13-02 03:04:05"), "FAIL");
        const m = await runCli([
          "-c",
          r.clientCfg.path,
          "time",
          "set",
          "2031-05-06 07:08:09",
          "--via",
          "mqtt",
        ]);
        assert.equal(m.code, 0, m.stderr);
        assert.equal(m.stdout, "inverter clock := 2031-05-06 07:08:09: OK\n");
        const g = JSON.parse(
          (await runCli(["-c", r.clientCfg.path, "--json", "time", "get", "--via", "mqtt"])).stdout,
        );
        assert.match(g.inverter, /^2031-05-06 07:08:\d\d$/);
        assert.equal(await r.command("set_clock", "now"), "OK");
      },
    );

    await t.step("exception on a slot register → exit 6 on both transports", async () => {
      r.sim.setFaults({ exceptionRegisters: [157] });
      const l = await runCli(["slot", "set", "ac_first", "3", "01:00-02:00", ...r.lxpArgs]);
      const m = await runCli([
        "-c",
        r.clientCfg.path,
        "slot",
        "set",
        "ac_first",
        "3",
        "01:00-02:00",
        "--via",
        "mqtt",
      ]);
      assert.equal(l.code, 6, l.stderr);
      assert.equal(m.code, 6, m.stderr);
    });
  } finally {
    await r.close();
  }
});
