// Home Assistant discovery payloads, exact strings (as zigbee2mqtt tests its discovery payloads).
// Expected values come from the issue (device-based discovery with dev/o/cmps/p, default_entity_id
// "<platform>.<id>"), Home Assistant's MQTT discovery documentation and the register table; the full
// inverter config is the reviewed fixture tests/fixtures/ha_inverter_device.json (one entity per line).

import assert from "node:assert/strict";
import { discoveryMessages, NOT_EXPOSED, SLOT_PATTERN } from "../src/lxp/discovery.ts";
import { blockKeys, type InputBlock } from "../src/lxp/inputs.ts";
import { unitFromText, venusDiscoveryMessages, venusEntityName } from "../src/venus/discovery.ts";
import { SUPPORT_URL, VERSION } from "../src/version.ts";

/**
 * Availability (issue 10): the one retained document on octolux/status, "online" only while the bridge runs
 * and its dongle link is up; Venus items only need the bridge process ("offline" is its last will).
 */
const AVAILABILITY =
  `{"topic":"octolux/status","value_template":"{{ 'online' if value == 'online' else 'offline' }}","payload_available":"online","payload_not_available":"offline"}`;
const VENUS_STATUS =
  `{"topic":"octolux/status","value_template":"{{ 'offline' if value == 'offline' else 'online' }}"}`;

/** The origin as version.ts names it (a release build adds its repository as the support URL). */
const ORIGIN_JSON = `{"name":"ess2mqtt","sw_version":"${VERSION}"${
  SUPPORT_URL ? `,"support_url":"${SUPPORT_URL}"` : ""
}}`;

const ID = "ess2mqtt_ba12345678";
const opts = {
  prefix: "octolux",
  discoveryPrefix: "homeassistant",
  datalog: "BA12345678",
  serial: "0123456789",
};
const device = discoveryMessages(opts);
const cmps = JSON.parse(device[0].payload).cmps as Record<string, Record<string, unknown>>;
const cmp = (key: string) => JSON.stringify(cmps[key]);

Deno.test("device form: one retained config on <prefix>/device/<id>/config, exactly the fixture", async () => {
  assert.equal(device.length, 1);
  assert.equal(device[0].topic, `homeassistant/device/${ID}/config`);
  const fixture = await Deno.readTextFile(new URL("./fixtures/ha_inverter_device.json", import.meta.url));
  const expected = JSON.parse(fixture);
  expected.o = JSON.parse(ORIGIN_JSON); // the fixture names 0.1.0 and no support URL
  assert.equal(device[0].payload, JSON.stringify(expected));
});

Deno.test("device form: dev, o (name, version), availability on the one status document", () => {
  const p = device[0].payload;
  assert.ok(
    p.startsWith(
      `{"dev":{"identifiers":["${ID}"],"name":"LuxPower 0123456789","manufacturer":"LuxPower","model":"LXP inverter","serial_number":"0123456789"},` +
        `"o":${ORIGIN_JSON},` +
        `"availability":[${AVAILABILITY}],"cmps":{`,
    ),
  );
  assert.equal(p.includes("object_id"), false);
});

Deno.test("device form: sensors, switch, number and slot text written out by hand", () => {
  assert.equal(
    cmp("v_bat"),
    `{"p":"sensor","name":"Battery voltage","unique_id":"${ID}_v_bat","default_entity_id":"sensor.${ID}_v_bat",` +
      `"state_topic":"octolux/inputs/1","value_template":"{{ value_json.v_bat }}","unit_of_measurement":"V",` +
      `"device_class":"voltage","state_class":"measurement"}`,
  );
  assert.equal(
    cmp("e_pv_all"),
    `{"p":"sensor","name":"PV energy total","unique_id":"${ID}_e_pv_all","default_entity_id":"sensor.${ID}_e_pv_all",` +
      `"state_topic":"octolux/inputs/2","value_template":"{{ value_json.e_pv_all }}","unit_of_measurement":"kWh",` +
      `"device_class":"energy","state_class":"total_increasing"}`,
  );
  assert.equal(
    cmp("t_inner"),
    `{"p":"sensor","name":"Internal temperature","unique_id":"${ID}_t_inner","default_entity_id":"sensor.${ID}_t_inner",` +
      `"state_topic":"octolux/inputs/2","value_template":"{{ value_json.t_inner }}","unit_of_measurement":"°C",` +
      `"device_class":"temperature","state_class":"measurement","entity_category":"diagnostic"}`,
  );
  // hold 21 bit 7 = AC charge enable: 2^7 = 128; the bridge accepts "on"/"off"
  assert.equal(
    cmp("ac_charge"),
    `{"p":"switch","name":"AC charge","unique_id":"${ID}_ac_charge","default_entity_id":"switch.${ID}_ac_charge",` +
      `"command_topic":"octolux/cmd/ac_charge","payload_on":"on","payload_off":"off","state_topic":"octolux/hold/21",` +
      `"value_template":"{{ 'on' if ((value | int) // 128) % 2 == 1 else 'off' }}","state_on":"on","state_off":"off",` +
      `"icon":"mdi:transmission-tower-import"}`,
  );
  // hold 65 = discharge rate, 0–100 %, a plain integer payload
  assert.equal(
    cmp("discharge_pct"),
    `{"p":"number","name":"Discharge rate","unique_id":"${ID}_discharge_pct","default_entity_id":"number.${ID}_discharge_pct",` +
      `"command_topic":"octolux/cmd/discharge_pct","command_template":"{{ value | int }}","state_topic":"octolux/hold/65",` +
      `"min":0,"max":100,"step":1,"mode":"box","unit_of_measurement":"%","icon":"mdi:battery-minus"}`,
  );
  assert.equal(
    cmp("forced_discharge_slot_2"),
    `{"p":"text","name":"Forced discharge slot 2","unique_id":"${ID}_forced_discharge_slot_2",` +
      `"default_entity_id":"text.${ID}_forced_discharge_slot_2","command_topic":"octolux/cmd/forced_discharge_slot/2",` +
      `"command_template":"{{ value }}","state_topic":"octolux/slot/forced_discharge/2","min":11,"max":11,"mode":"text",` +
      `"pattern":"^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$","entity_category":"config",` +
      `"icon":"mdi:clock-time-four-outline"}`,
  );
});

Deno.test("slot pattern accepts HH:MM-HH:MM on a 24-hour clock and nothing else", () => {
  const re = new RegExp(SLOT_PATTERN);
  for (const ok of ["00:00-00:00", "06:30-23:59", "23:00-05:15"]) assert.ok(re.test(ok), ok);
  for (const bad of ["6:30-07:00", "24:00-01:00", "06:60-07:00", "06:30 07:00", "06:30-07:00x", ""]) {
    assert.equal(re.test(bad), false, bad);
  }
});

Deno.test("status, fault and warning bits get text sensors decoding the table's texts", () => {
  const status = cmps.status_text;
  assert.equal(status.name, "Inverter status");
  assert.equal(status.state_topic, "octolux/inputs/1");
  // spec §3 status codes, e.g. 0x10 battery on-grid, 0x20 AC charge, 0xc0 PV + battery off-grid
  for (
    const s of ["0: 'standby'", "16: 'battery on-grid'", "32: 'AC charge'", "192: 'PV + battery off-grid'"]
  ) {
    assert.ok(String(status.value_template).includes(s), s);
  }
  assert.ok(String(status.value_template).includes("'unknown status 0x%02x' | format(value_json.status)"));
  const faults = cmps.fault_text;
  assert.deepEqual([faults.name, faults.state_topic, faults.entity_category], [
    "Faults",
    "octolux/inputs/2",
    "diagnostic",
  ]);
  assert.ok(String(faults.value_template).includes("value_json.fault_code | int"));
  assert.ok(String(faults.value_template).includes("'E%03d %s'"));
  assert.ok(String(faults.value_template).includes("3: 'CT fail'"));
  const warnings = cmps.warning_text;
  assert.deepEqual([warnings.name, warnings.entity_category], ["Warnings", "diagnostic"]);
  assert.ok(String(warnings.value_template).includes("value_json.warning_code | int"));
  assert.ok(String(warnings.value_template).includes("16: 'grid power outage'"));
});

Deno.test("every key of inputs/1..4 has a named entity or is listed as deliberately not exposed", () => {
  const names = new Set<string>();
  for (const block of [1, 2, 3, 4] as InputBlock[]) {
    for (const key of blockKeys(block)) {
      if (key in NOT_EXPOSED) {
        assert.equal(cmps[key], undefined, `${key} is not exposed`);
        assert.ok(NOT_EXPOSED[key].length > 10, `${key} has a reason`);
        continue;
      }
      const c = cmps[key];
      assert.ok(c, `inputs/${block} key ${key} has an entity`);
      assert.equal(c.state_topic, `octolux/inputs/${block}`);
      assert.equal(c.value_template, `{{ value_json.${key} }}`);
      const name = String(c.name);
      assert.match(name, /^[A-Z]/, `${key}: a human name (got "${name}")`);
      assert.equal(names.has(name), false, `${key}: name "${name}" is unique`);
      names.add(name);
    }
  }
  // the issue's example and the derived sums/differences
  assert.equal(cmps.e_pv_all.name, "PV energy total");
  assert.equal(cmps.p_pv.name, "PV power");
  assert.equal(cmps.e_pv_day.name, "PV energy today");
  assert.equal(cmps.p_battery.device_class, "power");
  assert.equal(cmps.p_grid.unit_of_measurement, "W");
  // diagnostics
  for (const k of ["status", "fault_code", "warning_code", "t_inner", "t_rad_1", "t_rad_2", "runtime"]) {
    assert.equal(cmps[k].entity_category, "diagnostic", k);
  }
});

Deno.test("entity form: one config per entity with device, origin and default_entity_id", () => {
  const msgs = discoveryMessages({ ...opts, mode: "entity" });
  assert.equal(msgs.length, Object.keys(cmps).length);
  const vbat = msgs.find((m) => m.topic === `homeassistant/sensor/${ID}/v_bat/config`);
  assert.equal(
    vbat?.payload,
    `{"name":"Battery voltage","unique_id":"${ID}_v_bat","default_entity_id":"sensor.${ID}_v_bat",` +
      `"state_topic":"octolux/inputs/1","value_template":"{{ value_json.v_bat }}","unit_of_measurement":"V",` +
      `"device_class":"voltage","state_class":"measurement",` +
      `"availability":[${AVAILABILITY}],` +
      `"device":{"identifiers":["${ID}"],"name":"LuxPower 0123456789","manufacturer":"LuxPower","model":"LXP inverter","serial_number":"0123456789"},` +
      `"origin":${ORIGIN_JSON}}`,
  );
  const slot = msgs.find((m) => m.topic === `homeassistant/text/${ID}/ac_first_slot_3/config`);
  assert.equal(JSON.parse(slot!.payload).command_topic, "octolux/cmd/ac_first_slot/3");
  assert.ok(msgs.find((m) => m.topic === `homeassistant/switch/${ID}/charge_priority/config`));
  assert.ok(msgs.find((m) => m.topic === `homeassistant/number/${ID}/charge_amount_pct/config`));
  assert.equal(msgs.some((m) => m.payload.includes("object_id")), false);
});

const PORTAL = "c0619ab1e2f3";
const VID = `ess2mqtt_venus_${PORTAL}`;

Deno.test("Venus: device config for a selection of items, exactly", () => {
  const msgs = venusDiscoveryMessages({
    portal: PORTAL,
    prefix: "octolux",
    discoveryPrefix: "homeassistant",
    paths: ["system/0/Dc/Battery/Soc", "system/0/Ac/Consumption/L1/Power", "battery/512/Dc/0/Foo"],
    texts: { "battery/512/Dc/0/Foo": "12.5A" },
  });
  assert.equal(msgs.length, 1);
  assert.equal(msgs[0].topic, `homeassistant/device/${VID}/config`);
  const avail = (t: string) =>
    `"availability":[${VENUS_STATUS},{"topic":"${t}","value_template":"{{ 'online' if value else 'offline' }}"}],"availability_mode":"all"`;
  assert.equal(
    msgs[0].payload,
    `{"dev":{"identifiers":["${VID}"],"name":"Victron Venus ${PORTAL}","manufacturer":"Victron Energy","model":"Venus OS"},` +
      `"o":${ORIGIN_JSON},` +
      `"availability":[${VENUS_STATUS}],"cmps":{` +
      `"system_0_dc_battery_soc":{"p":"sensor","name":"Battery SOC","unique_id":"${VID}_system_0_dc_battery_soc",` +
      `"default_entity_id":"sensor.${VID}_system_0_dc_battery_soc","state_topic":"N/${PORTAL}/system/0/Dc/Battery/Soc",` +
      `"value_template":"{{ value_json.value }}","unit_of_measurement":"%","device_class":"battery","state_class":"measurement",` +
      `${avail(`N/${PORTAL}/system/0/Dc/Battery/Soc`)}},` +
      `"system_0_ac_consumption_l1_power":{"p":"sensor","name":"Consumption L1 power","unique_id":"${VID}_system_0_ac_consumption_l1_power",` +
      `"default_entity_id":"sensor.${VID}_system_0_ac_consumption_l1_power","state_topic":"N/${PORTAL}/system/0/Ac/Consumption/L1/Power",` +
      `"value_template":"{{ value_json.value }}","unit_of_measurement":"W","device_class":"power","state_class":"measurement",` +
      `${avail(`N/${PORTAL}/system/0/Ac/Consumption/L1/Power`)}},` +
      `"battery_512_dc_0_foo":{"p":"sensor","name":"battery 512 0 foo","unique_id":"${VID}_battery_512_dc_0_foo",` +
      `"default_entity_id":"sensor.${VID}_battery_512_dc_0_foo","state_topic":"N/${PORTAL}/battery/512/Dc/0/Foo",` +
      `"value_template":"{{ value_json.value }}","unit_of_measurement":"A","device_class":"current","state_class":"measurement",` +
      `${avail(`N/${PORTAL}/battery/512/Dc/0/Foo`)}}}}`,
  );
});

Deno.test("Venus: names from the path, units from GetText", () => {
  assert.equal(venusEntityName("system/0/Dc/Pv/Power"), "PV power");
  assert.equal(venusEntityName("system/0/Dc/Battery/Voltage"), "Battery voltage");
  assert.equal(venusEntityName("vebus/257/Ac/Out/L1/P"), "vebus 257 Output L1 power");
  assert.equal(unitFromText("87.5%"), "%");
  assert.equal(unitFromText("1234W"), "W");
  assert.equal(unitFromText("52.10 V"), "V");
  assert.equal(unitFromText("25.0°C"), "°C");
  assert.equal(unitFromText("---"), "");
  assert.equal(unitFromText("3 bananas"), "");
  const entity = venusDiscoveryMessages({
    portal: PORTAL,
    prefix: "octolux",
    discoveryPrefix: "homeassistant",
    mode: "entity",
    paths: ["system/0/Dc/Battery/Soc"],
  });
  assert.equal(entity.length, 1);
  assert.equal(entity[0].topic, `homeassistant/sensor/${VID}/system_0_dc_battery_soc/config`);
  const p = JSON.parse(entity[0].payload);
  assert.equal(p.default_entity_id, `sensor.${VID}_system_0_dc_battery_soc`);
  assert.equal(p.availability.length, 2);
  assert.equal(p.origin.name, "ess2mqtt");
});
