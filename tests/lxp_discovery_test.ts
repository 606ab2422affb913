import assert from "node:assert/strict";
import { discoveryMessages } from "../src/lxp/discovery.ts";

const msgs = discoveryMessages({
  prefix: "octolux",
  discoveryPrefix: "homeassistant",
  datalog: "BA12345678",
  serial: "0123456789",
});
const byTopic = new Map(msgs.map((m) => [m.topic, JSON.parse(m.payload)]));

Deno.test("discovery: sensors read the inputs JSON with unit and classes from the register table", () => {
  const vbat = byTopic.get("homeassistant/sensor/ess2mqtt_ba12345678/v_bat/config");
  assert.equal(vbat.state_topic, "octolux/inputs/1");
  assert.equal(vbat.value_template, "{{ value_json.v_bat }}");
  assert.equal(vbat.unit_of_measurement, "V");
  assert.equal(vbat.device_class, "voltage");
  assert.equal(vbat.state_class, "measurement");
  assert.equal(vbat.unique_id, "ess2mqtt_ba12345678_v_bat");
  assert.deepEqual(vbat.availability, AVAILABILITY);
  const epv = byTopic.get("homeassistant/sensor/ess2mqtt_ba12345678/e_pv_all/config");
  assert.equal(epv.state_topic, "octolux/inputs/2");
  assert.equal(epv.device_class, "energy");
  assert.equal(epv.state_class, "total_increasing");
  assert.equal(byTopic.get("homeassistant/sensor/ess2mqtt_ba12345678/soc/config").device_class, "battery");
  // every sensor names a key that its block's JSON really has
  for (const [topic, cfg] of byTopic) {
    if (!topic.includes("/sensor/")) continue;
    assert.match(cfg.value_template, /^\{\{ value_json\.[a-z0-9_]+ \}\}$/);
  }
});

// README "Availability": one document, octolux/status; only "online" means usable ("inverter_offline" and
// "offline" — also the last will — do not). No entity may read the link state from anywhere else.
const AVAILABILITY = [{
  topic: "octolux/status",
  value_template: "{{ 'online' if value == 'online' else 'offline' }}",
  payload_available: "online",
  payload_not_available: "offline",
}];

Deno.test("discovery: every entity is available only while octolux/status is online", () => {
  assert.ok(byTopic.size > 10);
  for (const [topic, cfg] of byTopic) {
    assert.deepEqual(cfg.availability, AVAILABILITY, topic);
    assert.equal(cfg.availability_mode, undefined, topic);
  }
});

Deno.test("discovery: switches and numbers command the octolux topics", () => {
  const ac = byTopic.get("homeassistant/switch/ess2mqtt_ba12345678/ac_charge/config");
  assert.equal(ac.command_topic, "octolux/cmd/ac_charge");
  assert.equal(ac.state_topic, "octolux/hold/21");
  assert.equal(ac.value_template, "{{ 'on' if ((value | int) // 128) % 2 == 1 else 'off' }}");
  const fd = byTopic.get("homeassistant/switch/ess2mqtt_ba12345678/forced_discharge/config");
  assert.match(fd.value_template, /\/\/ 1024\)/);
  const dis = byTopic.get("homeassistant/number/ess2mqtt_ba12345678/discharge_pct/config");
  assert.equal(dis.command_topic, "octolux/cmd/discharge_pct");
  assert.equal(dis.state_topic, "octolux/hold/65");
  assert.deepEqual([dis.min, dis.max, dis.step, dis.unit_of_measurement], [0, 100, 1, "%"]);
  assert.equal(msgs.filter((m) => m.topic.includes("/number/")).length, 3);
  assert.equal(msgs.filter((m) => m.topic.includes("/switch/")).length, 3);
});
