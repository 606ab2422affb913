// PURE: Home Assistant MQTT discovery for the LuxPower bridge, read from the one register table:
// a sensor per key of the inputs JSON that has a unit or a device class, switches for the three register-21
// commands and numbers for the three percentage commands (state from hold/<reg>, commands on cmd/<name>).

import { blockKeys, type InputBlock, inputKeyDef } from "./inputs.ts";
import { findRegister } from "./registers.ts";

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

const SWITCHES = [
  { command: "ac_charge", bit: 7, name: "AC charge" },
  { command: "forced_discharge", bit: 10, name: "Forced discharge" },
  { command: "charge_priority", bit: 11, name: "Charge priority" },
] as const;

const NUMBERS = [
  { command: "charge_pct", register: 64, name: "Charge rate" },
  { command: "discharge_pct", register: 65, name: "Discharge rate" },
  { command: "charge_amount_pct", register: 67, name: "AC charge SOC limit" },
] as const;

export function discoveryMessages(o: DiscoveryOptions): DiscoveryMessage[] {
  const id = `ess2mqtt_${o.datalog.toLowerCase()}`;
  const device = {
    identifiers: [id],
    manufacturer: "LuxPower",
    model: "LXP inverter",
    name: `LuxPower ${o.serial}`,
    serial_number: o.serial,
  };
  // One availability document: <prefix>/status is "online" only while the bridge runs AND its link to the
  // dongle is up ("inverter_offline", or "offline" — also the last will — otherwise).
  const availability = [{
    topic: `${o.prefix}/status`,
    value_template: "{{ 'online' if value == 'online' else 'offline' }}",
    payload_available: "online",
    payload_not_available: "offline",
  }];
  const base = { device, availability };
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
  for (const s of SWITCHES) {
    add("switch", s.command, {
      name: s.name,
      command_topic: `${o.prefix}/cmd/${s.command}`,
      payload_on: "on",
      payload_off: "off",
      state_topic: `${o.prefix}/hold/21`,
      value_template: `{{ 'on' if ((value | int) // ${1 << s.bit}) % 2 == 1 else 'off' }}`,
      state_on: "on",
      state_off: "off",
    });
  }
  for (const n of NUMBERS) {
    add("number", n.command, {
      name: n.name,
      command_topic: `${o.prefix}/cmd/${n.command}`,
      state_topic: `${o.prefix}/hold/${n.register}`,
      min: 0,
      max: 100,
      step: 1,
      mode: "box",
      unit_of_measurement: findRegister("hold", n.register)?.unit || "%",
    });
  }
  return out;
}
