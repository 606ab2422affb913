// PURE: Home Assistant MQTT discovery for the LuxPower bridge, read from the one register table:
// a sensor per key of the inputs JSON that has a unit or a device class, a switch for each boolean command
// and a number for each integer command of the command table (state from hold/<reg>, commands on cmd/<name>).

import { blockKeys, type InputBlock, inputKeyDef } from "./inputs.ts";
import { findRegister } from "./registers.ts";
import { COMMANDS } from "./commands.ts";
import { type TopicLayout, topicLayout } from "./topics.ts";
import { LXP_BRIDGE_KEYS } from "./lxp_bridge_inputs.ts";

export interface DiscoveryOptions {
  /** Topic prefix of the bridge (octolux). */
  prefix: string;
  /** Home Assistant discovery prefix (homeassistant). */
  discoveryPrefix: string;
  datalog: string;
  serial: string;
  /** The [lxp.NAME] name when several inverters run: one HA device per inverter, ids made unique by serial. */
  name?: string;
  /** Topic names (default: the octolux layout of `prefix`). */
  layout?: TopicLayout;
}

export interface DiscoveryMessage {
  topic: string;
  payload: string;
}

export function discoveryMessages(o: DiscoveryOptions): DiscoveryMessage[] {
  // A single inverter keeps the seed's ids; named ones add the serial (a master/slave pair may share a dongle).
  const id = o.name
    ? `ess2mqtt_${o.datalog.toLowerCase()}_${o.serial.toLowerCase()}`
    : `ess2mqtt_${o.datalog.toLowerCase()}`;
  const layout = o.layout ?? topicLayout({ layout: "octolux", prefix: o.prefix, datalog: o.datalog });
  const t = (rest: string) => layout.state(rest);
  const lxpBridge = layout.layout === "lxp-bridge";
  const device = {
    identifiers: [id],
    manufacturer: "LuxPower",
    model: "LXP inverter",
    name: o.name ? `LuxPower ${o.name} (${o.serial})` : `LuxPower ${o.serial}`,
    serial_number: o.serial,
  };
  const availability = [
    { topic: layout.status },
    { topic: t("inverter") },
  ];
  const base = { device, availability, availability_mode: "all" };
  const out: DiscoveryMessage[] = [];
  const add = (component: string, object: string, config: Record<string, unknown>) =>
    out.push({
      topic: `${o.discoveryPrefix}/${component}/${id}/${object}/config`,
      payload: JSON.stringify({
        ...config,
        ...base,
        unique_id: `${id}_${object}`,
        object_id: `${id}_${object}`,
      }),
    });

  for (const block of [1, 2, 3, 4] as InputBlock[]) {
    for (const key of blockKeys(block)) {
      const def = inputKeyDef(key);
      if (!def || (!def.unit && !def.deviceClass)) continue;
      // lxp-bridge's JSON names registers by the table key (v_ac_r, not octolux's v_acr)
      const jsonKey = !lxpBridge || LXP_BRIDGE_KEYS[block].includes(key) ? key : def.key;
      if (lxpBridge && !LXP_BRIDGE_KEYS[block].includes(jsonKey)) continue;
      const config: Record<string, unknown> = {
        name: key === def.key || key === def.octoluxKey ? def.name : key.replaceAll("_", " "),
        state_topic: t(`inputs/${block}`),
        value_template: `{{ value_json.${jsonKey} }}`,
      };
      if (def.unit) config.unit_of_measurement = def.unit;
      if (def.deviceClass) config.device_class = def.deviceClass;
      if (def.stateClass) config.state_class = def.stateClass;
      add("sensor", key, config);
    }
  }
  for (const c of COMMANDS) {
    const command = layout.encodeCommand(c.name, "") ?? layout.encodeCommand(`set_hold/${c.register}`, "");
    if (!command) continue;
    const common = {
      name: c.label,
      command_topic: command.topic,
      state_topic: t(`hold/${c.register}`),
    };
    if (c.value.kind === "bool") {
      add("switch", c.name, {
        ...common,
        payload_on: "on",
        payload_off: "off",
        value_template: `{{ 'on' if ((value | int) // ${2 ** c.value.bit}) % 2 == 1 else 'off' }}`,
        state_on: "on",
        state_off: "off",
      });
    } else {
      add("number", c.name, {
        ...common,
        min: c.value.min,
        max: c.value.max,
        step: 1,
        mode: "box",
        unit_of_measurement: findRegister("hold", c.register)?.unit || "%",
      });
    }
  }
  return out;
}
