// The topic layouts (src/lxp/topics.ts) against the spec's topics (§5.1 octolux, §5.2 lxp-bridge), the
// lxp-bridge inputs JSON against the §2.6 vectors, and [lxp.NAME] / [mqtt] topics in the config.

import assert from "node:assert/strict";
import fc from "fast-check";
import { topicLayout } from "../src/lxp/topics.ts";
import { LXP_BRIDGE_KEYS, LxpBridgeInputs } from "../src/lxp/lxp_bridge_inputs.ts";
import { decodeFrame, fromHex } from "../src/lxp/frame.ts";
import { planCommand } from "../src/lxp/commands.ts";
import { isKnownCommand } from "../src/bridges/lxp_bridge.ts";
import { discoveryMessages } from "../src/lxp/discovery.ts";
import { ConfigError, maskedConfig, parseConfig, renderConfig, selectInverter } from "../src/config.ts";
import { V } from "./fixtures/lxp_vectors.ts";

const DL = "BA12345678";
const octolux = topicLayout({ layout: "octolux", prefix: "octolux", datalog: DL });
const named = topicLayout({ layout: "octolux", prefix: "octolux", name: "garage", datalog: DL });
const lxpb = topicLayout({ layout: "lxp-bridge", prefix: "lxp", datalog: DL });

Deno.test("octolux layout: the seed's topics, and with a name every topic but status carries it", () => {
  assert.equal(octolux.state("inputs/1"), "octolux/inputs/1");
  assert.equal(octolux.state("hold/21"), "octolux/hold/21");
  assert.equal(octolux.state("inverter"), "octolux/inverter");
  assert.equal(octolux.status, "octolux/status");
  assert.deepEqual(octolux.commandFilters, ["octolux/cmd/#"]);
  assert.deepEqual(octolux.parseCommand("octolux/cmd/ac_charge", "on"), {
    name: "ac_charge",
    payload: "on",
    resultTopic: "octolux/result/ac_charge",
  });
  assert.equal(named.state("inputs/1"), "octolux/garage/inputs/1");
  assert.equal(named.state("hold/65"), "octolux/garage/hold/65");
  assert.equal(named.state("inverter"), "octolux/garage/inverter");
  assert.equal(named.state("status"), "octolux/status");
  assert.deepEqual(named.commandFilters, ["octolux/garage/cmd/#"]);
  assert.deepEqual(named.parseCommand("octolux/garage/cmd/set_hold/66", "70"), {
    name: "set_hold/66",
    payload: "70",
    resultTopic: "octolux/garage/result/set_hold/66",
  });
  assert.equal(named.parseCommand("octolux/cmd/ac_charge", "on"), undefined);
  assert.equal(named.parseCommand("octolux/house/cmd/ac_charge", "on"), undefined);
  assert.equal(octolux.retainHold, false);
});

Deno.test("lxp-bridge layout: published topics of spec §5.2", () => {
  assert.equal(lxpb.state("inputs/1"), "lxp/BA12345678/inputs/1");
  assert.equal(lxpb.state("inputs/all"), "lxp/BA12345678/inputs/all");
  assert.equal(lxpb.state("hold/21"), "lxp/BA12345678/hold/21");
  assert.equal(lxpb.state("hold/21/bits"), "lxp/BA12345678/hold/21/bits");
  assert.equal(lxpb.state("slot/ac_charge/1"), "lxp/BA12345678/ac_charge/1");
  assert.equal(lxpb.status, "lxp/LWT");
  assert.equal(lxpb.state("status"), "lxp/LWT");
  assert.equal(lxpb.retainHold, true);
  assert.deepEqual(lxpb.commandFilters, ["lxp/cmd/BA12345678/#", "lxp/cmd/all/#"]);
  assert.equal(lxpb.resultFilter, "lxp/result/BA12345678/#");
});

Deno.test("lxp-bridge layout: every command topic of spec §5.2 → the bridge's command and result topic", () => {
  const cases: [string, string, string, string][] = [
    // topic suffix, payload → command, payload
    ["read/inputs/1", "", "read_input", "1"],
    ["read/inputs/4", "ignored", "read_input", "4"],
    ["read/hold/12", "", "read_hold", "12"],
    ["read/hold/12", "3", "read_hold", "12,3"],
    ["set/hold/66", "100", "set_hold/66", "100"],
    ["set/ac_charge", "ON", "ac_charge", "ON"],
    ["set/charge_priority", "true", "charge_priority", "true"],
    ["set/forced_discharge", "0", "forced_discharge", "0"],
    ["set/charge_rate_pct", "50", "charge_pct", "50"], // hold 64
    ["set/discharge_rate_pct", "50", "discharge_pct", "50"], // hold 65
    ["set/ac_charge_rate_pct", "50", "set_hold/66", "50"],
    ["set/ac_charge_soc_limit_pct", "90", "charge_amount_pct", "90"], // hold 67
    ["set/discharge_cutoff_soc_limit_pct", "20", "set_hold/105", "20"],
    // time slots (spec §4: AC charge 68/69 …, charge priority 76/77 …, forced discharge 84/85 …, AC first 152/153 …)
    ["read/ac_charge/1", "", "read_hold", "68,2"],
    ["read/ac_charge/3", "", "read_hold", "72,2"],
    ["read/charge_priority/1", "", "read_hold", "76,2"],
    ["read/forced_discharge/2", "", "read_hold", "86,2"],
    ["read/ac_first/1", "", "read_hold", "152,2"],
    [
      "set/ac_charge/1",
      '{"start":"23:30","end":"05:30"}',
      "ac_charge_slot/1",
      '{"start":"23:30","end":"05:30"}',
    ],
  ];
  for (const [rest, payload, name, want] of cases) {
    for (const target of [DL, "all"]) {
      assert.deepEqual(lxpb.parseCommand(`lxp/cmd/${target}/${rest}`, payload), {
        name,
        payload: want,
        resultTopic: `lxp/result/${DL}/${rest}`,
      }, `${target}/${rest}`);
    }
  }
  // the register each set/… reaches, from the command table
  const reg = (rest: string, p: string) => {
    const c = lxpb.parseCommand(`lxp/cmd/${DL}/${rest}`, p)!;
    const plan = planCommand(c.name, c.payload);
    assert.ok(plan.ok, rest);
    return plan.plan.kind === "write" ? plan.plan.register : -1;
  };
  assert.deepEqual(
    [
      reg("set/charge_rate_pct", "1"),
      reg("set/discharge_rate_pct", "1"),
      reg("set/ac_charge_rate_pct", "1"),
      reg("set/ac_charge_soc_limit_pct", "1"),
      reg("set/discharge_cutoff_soc_limit_pct", "1"),
    ],
    [64, 65, 66, 67, 105],
  );
  // not ours: other datalogs, unknown verbs, params
  assert.equal(lxpb.parseCommand("lxp/cmd/XX99999999/read/inputs/1", ""), undefined);
  assert.equal(lxpb.parseCommand(`lxp/cmd/${DL}/read/param/0`, ""), undefined);
  assert.equal(lxpb.parseCommand(`lxp/cmd/${DL}/set/bogus`, "1"), undefined);
  assert.equal(lxpb.parseCommand(`lxp/cmd/${DL}/frob/hold/1`, "1"), undefined);
});

Deno.test("encodeCommand is parseCommand's inverse for every command the bridge knows", () => {
  const names = fc.oneof(
    fc.constantFrom("ac_charge", "forced_discharge", "charge_priority", "charge_pct", "discharge_pct"),
    fc.constantFrom("charge_amount_pct", "read_input"),
    fc.integer({ min: 0, max: 65535 }).map((r) => `set_hold/${r}`),
  );
  for (const layout of [octolux, named, lxpb]) {
    fc.assert(fc.property(names, fc.stringMatching(/^[0-9a-z ]{0,6}$/), (name, payload) => {
      const e = layout.encodeCommand(name, payload)!;
      const p = layout.parseCommand(e.topic, e.payload)!;
      assert.equal(p.name, name);
      assert.equal(p.resultTopic, e.resultTopic);
      assert.ok(isKnownCommand(p.name));
      if (name !== "read_input") assert.equal(p.payload, payload);
    }));
    for (const payload of ["12", "12,3", "0,40"]) {
      const e = layout.encodeCommand("read_hold", payload)!;
      assert.deepEqual(layout.parseCommand(e.topic, e.payload)?.payload, payload);
    }
  }
  assert.deepEqual(lxpb.encodeCommand("read_hold", "12,3"), {
    topic: "lxp/cmd/BA12345678/read/hold/12",
    payload: "3",
    resultTopic: "lxp/result/BA12345678/read/hold/12",
  });
});

function values(hex: string): { register: number; values: number[] } {
  const r = decodeFrame(fromHex(hex.replaceAll(" ", "")));
  assert.ok(r.ok);
  const p = r.packet;
  assert.ok(p.kind === "translated" && p.values);
  return { register: p.register, values: p.values };
}

Deno.test("lxp-bridge inputs JSON: spec §2.6 vectors decode to lxp-bridge's keys, with time and datalog", () => {
  const feed = new LxpBridgeInputs("2222222222");
  const b1 = values(V.readInput1Reply);
  const [[topic1, json1]] = feed.feed(b1.register, b1.values, 1700000000);
  assert.equal(topic1, "inputs/1");
  const o1 = JSON.parse(json1);
  assert.deepEqual(Object.keys(o1), [...LXP_BRIDGE_KEYS[1], "time", "datalog"]);
  // §2.6 decoded fixture
  for (
    const [k, v] of Object.entries({
      status: 16,
      v_pv_3: 0.2,
      v_bat: 52.8,
      soc: 83,
      soh: 0,
      internal_fault: 12032,
      p_discharge: 512,
      v_ac_r: 234.1,
      v_ac_s: 25.7,
      v_ac_t: 0.4,
      f_ac: 50.04,
      p_inv: 502,
      pf: 1,
      v_eps_r: 234.1,
      v_eps_t: 6.4,
      f_eps: 50.04,
      e_inv_day: 2.2,
      e_rec_day: 2.2,
      e_chg_day: 2.1,
      e_dischg_day: 2.2,
      e_to_user_day: 22.2,
      v_bus_1: 365,
      v_bus_2: 320.1,
      p_battery: -512,
      p_grid: 0,
      time: 1700000000,
      datalog: "2222222222",
    })
  ) assert.equal(o1[k], v, k);
  const b2 = values(V.readInput2Reply);
  const o2 = JSON.parse(feed.feed(b2.register, b2.values, 1700000001)[0][1]);
  for (
    const [k, v] of Object.entries({
      e_pv_all_1: 4215.8,
      e_pv_all: 4215.8,
      e_inv_all: 4965,
      e_rec_all: 5947.1,
      e_chg_all: 6369.4,
      e_dischg_all: 6039.3,
      e_to_grid_all: 1005.8,
      e_to_user_all: 10157,
      t_inner: 28,
      t_rad_1: 27,
      runtime: 82628180,
    })
  ) assert.equal(o2[k], v, k);
  const b3 = values(V.readInput3Reply);
  const out3 = feed.feed(b3.register, b3.values, 1700000002);
  // block 3 with 1 and 2 seen → inputs/3 then inputs/all (lxp-bridge 0.13.0)
  assert.deepEqual(out3.map(([t]) => t), ["inputs/3", "inputs/all"]);
  const o3 = JSON.parse(out3[0][1]);
  assert.equal(o3.max_chg_curr, 66);
  assert.equal(o3.charge_volt_ref, 53.5);
  assert.equal(o3.dischg_cut_volt, 40);
  assert.equal(o3.vbat_inv, 52.7);
  const all = JSON.parse(out3[1][1]);
  assert.equal(all.v_bat, 52.8);
  assert.equal(all.e_inv_all, 4965);
  assert.equal(all.vbat_inv, 52.7);
  assert.equal(all.time, 1700000002);
  // one 0–126 frame (newer firmware): blocks 1–3 and inputs/all at once
  const whole = [...b1.values, ...b2.values, ...b3.values, 0, 0, 0, 0, 0, 0, 0].slice(0, 127);
  const outAll = new LxpBridgeInputs("2222222222").feed(0, whole, 5);
  assert.deepEqual(outAll.map(([t]) => t), ["inputs/1", "inputs/2", "inputs/3", "inputs/all"]);
  assert.deepEqual(JSON.parse(outAll[3][1]), { ...o1, ...o2, ...o3, time: 5 });
  // block 3 alone (a fresh bridge) gives no inputs/all
  assert.deepEqual(new LxpBridgeInputs("x").feed(b3.register, b3.values, 1).map(([t]) => t), ["inputs/3"]);
});

Deno.test("discovery: one device per named inverter; lxp-bridge layout reads lxp-bridge's keys and commands", () => {
  const base = { prefix: "octolux", discoveryPrefix: "homeassistant", mode: "entity" as const };
  const a = discoveryMessages({
    ...base,
    datalog: "BA00000001",
    serial: "1000000001",
    name: "a",
    layout: named,
  });
  const b = discoveryMessages({ ...base, datalog: "BA00000001", serial: "1000000002", name: "b" });
  const ids = (ms: typeof a) => new Set(ms.map((m) => JSON.parse(m.payload).device.identifiers[0]));
  assert.deepEqual([...ids(a)], ["ess2mqtt_ba00000001_1000000001"]);
  assert.deepEqual([...ids(b)], ["ess2mqtt_ba00000001_1000000002"]);
  const uniq = new Set([...a, ...b].map((m) => JSON.parse(m.payload).unique_id));
  assert.equal(uniq.size, a.length + b.length);
  const vbat = JSON.parse(a.find((m) => m.topic.endsWith("/v_bat/config"))!.payload);
  assert.equal(vbat.state_topic, "octolux/garage/inputs/1");
  // several inverters: one availability document, each config reading its own name
  assert.deepEqual(vbat.availability, [{
    topic: "octolux/status",
    value_template:
      "{{ 'online' if value_json is defined and value_json is mapping and value_json.get('a') == 'online' else 'offline' }}",
    payload_available: "online",
    payload_not_available: "offline",
  }]);
  assert.equal(JSON.parse(a[0].payload).device.name, "LuxPower a (1000000001)");

  const l = discoveryMessages({ ...base, datalog: DL, serial: "0123456789", layout: lxpb });
  const vac = JSON.parse(l.find((m) => m.topic.endsWith("/v_acr/config"))!.payload);
  assert.equal(vac.state_topic, "lxp/BA12345678/inputs/1");
  assert.equal(vac.value_template, "{{ value_json.v_ac_r }}");
  for (const m of l.filter((m) => m.topic.includes("/sensor/"))) {
    const key = /value_json\.([a-z0-9_]+)/.exec(JSON.parse(m.payload).value_template)![1];
    const block = Number(JSON.parse(m.payload).state_topic.split("/").pop()) as 1 | 2 | 3 | 4;
    assert.ok(LXP_BRIDGE_KEYS[block].includes(key), `${key} in lxp-bridge block ${block}`);
  }
  const ac = JSON.parse(
    l.find((m) => m.topic.endsWith("/switch/ess2mqtt_ba12345678/ac_charge/config"))!.payload,
  );
  assert.equal(ac.command_topic, "lxp/cmd/BA12345678/set/ac_charge");
  assert.equal(ac.state_topic, "lxp/BA12345678/hold/21");
  assert.deepEqual(ac.availability, [{
    topic: "lxp/LWT",
    value_template: "{{ 'online' if value == 'online' else 'offline' }}",
    payload_available: "online",
    payload_not_available: "offline",
  }]);
  const dis = JSON.parse(l.find((m) => m.topic.endsWith("/discharge_pct/config"))!.payload);
  assert.equal(dis.command_topic, "lxp/cmd/BA12345678/set/discharge_rate_pct");
});

const parse = (text: string, env: Record<string, string> = {}) =>
  parseConfig({ text, fileName: "config.ini", env });
function problems(text: string, env: Record<string, string> = {}): string[] {
  try {
    parse(text, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
  assert.fail("expected a ConfigError");
}

const TWO = "[lxp]\ncommand_timeout = 3\nread_interval = 30\n" +
  "[lxp.master]\nhost = 10.0.0.1\nserial = 1000000001\ndatalog = BA00000001\n" +
  "[lxp.slave]\nhost = 10.0.0.2\nport = 8001\nserial = 1000000002\ndatalog = BA00000002\ncommand_timeout = 7\n";

Deno.test("config: [lxp.NAME] sections inherit [lxp], in file order; env ESS2MQTT_LXP_<NAME>_<KEY>", () => {
  const c = parse(TWO, { ESS2MQTT_LXP_SLAVE_HOST: "10.9.9.9", ESS2MQTT_LXP_READ_INTERVAL: "60" });
  assert.deepEqual(c.inverters.map((i) => [i.name, i.host, i.port, i.command_timeout, i.read_interval]), [
    ["master", "10.0.0.1", 8000, 3, 60],
    ["slave", "10.9.9.9", 8001, 7, 60],
  ]);
  assert.equal(c.lxp?.name, "master");
  assert.equal(maskedConfig(c).lxp, undefined);
  assert.equal((maskedConfig(c).inverters as unknown[]).length, 2);
  const text = renderConfig(c);
  assert.match(text, /\[lxp\.master\]\nhost = 10\.0\.0\.1\n/);
  assert.match(text, /\[lxp\.slave\]\nhost = 10\.9\.9\.9\nport = 8001\n/);
  assert.equal(selectInverter(c, "slave"), c.inverters[1]);
  assert.equal(selectInverter(c, "nope"), 'no inverter "nope" in the config (known: master, slave)');
  assert.equal(selectInverter(c), "the config has 2 inverters: give --inverter master|slave");
  // one [lxp] stays the seed's single unnamed inverter
  const one = parse("[lxp]\nhost=h\nserial=0123456789\ndatalog=BA12345678\n");
  assert.equal(selectInverter(one), one.inverters[0]);
  assert.equal(one.inverters[0].name, "");
});

Deno.test("config: every problem of every inverter section is listed at once", () => {
  assert.deepEqual(
    problems(
      "[lxp]\nport = 0\n[lxp.a]\nhost = h\nserial = 1\ndatalog = BA00000001\n[lxp.b]\nhost =\n[lxp.status]\nhost=h\n" +
        "[lxp.x y]\nhost=h\n",
      { ESS2MQTT_LXP_C_HOST: "h" },
    ),
    [
      'config.ini [lxp.status]: "status" is a topic name of its own; choose another inverter name (not status, inverter, inputs, hold, cmd, result, slot)',
      'config.ini [lxp.x y]: an inverter name is letters, digits, _ and - only (got "x y")',
      "env ESS2MQTT_LXP_C_HOST: no [lxp.c] section in config.ini (inverters: a, b)",
      'config.ini [lxp] port: must be between 1 and 65535 (got "0")',
      'config.ini [lxp.a] serial: must be exactly 10 characters (has 1) (got "1")',
      'config.ini [lxp.b] host: must not be empty (got "")',
      "config.ini [lxp.b] serial: required",
      "config.ini [lxp.b] datalog: required",
    ],
  );
});

Deno.test("config: [mqtt] topics = lxp-bridge defaults the prefix to lxp and needs distinct datalogs", () => {
  const c = parse("[mqtt]\ntopics = lxp-bridge\n");
  assert.equal(c.mqtt.topics, "lxp-bridge");
  assert.equal(c.mqtt.prefix, "lxp");
  assert.equal(parse("[mqtt]\ntopics = lxp-bridge\nprefix = ns\n").mqtt.prefix, "ns");
  assert.equal(parse("").mqtt.prefix, "octolux");
  assert.deepEqual(problems("[mqtt]\ntopics = lxp\n"), [
    'config.ini [mqtt] topics: must be one of octolux, lxp-bridge (got "lxp")',
  ]);
  assert.deepEqual(
    problems(
      "[mqtt]\ntopics = lxp-bridge\n[lxp]\ndatalog = BA00000001\n[lxp.a]\nhost=h\nserial=1000000001\n" +
        "[lxp.b]\nhost=h\nserial=1000000002\n",
    ),
    [
      'config.ini [lxp.b] datalog: the lxp-bridge topics name inverters by datalog, and [lxp.a] has the same (got "BA00000001")',
    ],
  );
});

Deno.test("tui state follows one named inverter: its topics and its entry of the status document", async () => {
  const { applyEvent, emptyState, mqttEvents } = await import("../src/tui/state.ts");
  const enc = (s: string) => new TextEncoder().encode(s);
  const topics = { base: "octolux/garage", status: named.status, name: "garage" };
  const state = emptyState("mqtt", "test", topics.base);
  const feed = (topic: string, payload: string) => {
    for (const ev of mqttEvents(topics, topic, enc(payload))) applyEvent(state, ev, 1000);
  };
  feed("octolux/status", '{"garage":"online","house":"inverter_offline"}');
  assert.equal(state.links.inverter.state, "up");
  feed("octolux/garage/hold/65", "35");
  feed("octolux/house/hold/65", "99");
  assert.deepEqual([...state.holds].map(([reg, h]) => [reg, h.raw]), [[65, 35]]);
  feed("octolux/status", '{"garage":"inverter_offline"}');
  assert.equal(state.links.inverter.state, "down");
  feed("octolux/status", "offline"); // the last will
  assert.equal(state.links.inverter.state, "down");
});
