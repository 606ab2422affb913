// PURE: Home Assistant MQTT discovery for the LuxPower bridge, read from the one register table:
// a sensor per key of the inputs JSON that has a unit or a device class, a switch for each boolean command
// and a number for each integer command of the command table (state from hold/<reg>, commands on cmd/<name>).

import { blockKeys, type InputBlock, inputKeyDef } from "./inputs.ts";
import { findRegister } from "./registers.ts";
import { COMMANDS } from "./commands.ts";

export interface DiscoveryOptions {
  /** Topic prefix of the bridge (octolux). */
  prefix: string;
  /** Home Assistant discovery prefix (homeassistant). */
  discoveryPrefix: string;
  datalog: string;
  serial: string;
}

export interface DiscoveryMessage {
  topic: string;
  payload: string;
}

export function discoveryMessages(o: DiscoveryOptions): DiscoveryMessage[] {
  const id = `ess2mqtt_${o.datalog.toLowerCase()}`;
  const device = {
    identifiers: [id],
    manufacturer: "LuxPower",
    model: "LXP inverter",
    name: `LuxPower ${o.serial}`,
    serial_number: o.serial,
  };
  const availability = [
    { topic: `${o.prefix}/status` },
    { topic: `${o.prefix}/inverter` },
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
      const config: Record<string, unknown> = {
        name: key === def.key || key === def.octoluxKey ? def.name : key.replaceAll("_", " "),
        state_topic: `${o.prefix}/inputs/${block}`,
        value_template: `{{ value_json.${key} }}`,
      };
      if (def.unit) config.unit_of_measurement = def.unit;
      if (def.deviceClass) config.device_class = def.deviceClass;
      if (def.stateClass) config.state_class = def.stateClass;
      add("sensor", key, config);
    }
  }
  for (const c of COMMANDS) {
    const common = {
      name: c.label,
      command_topic: `${o.prefix}/cmd/${c.name}`,
      state_topic: `${o.prefix}/hold/${c.register}`,
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
