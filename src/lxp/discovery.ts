// PURE: Home Assistant MQTT discovery for the LuxPower bridge, read from the one register table, the
// command table and the slot table:
// - a sensor per key of inputs/1..4 (name, unit, classes, icon, diagnostic category from the register
//   table; sums/differences from its derived-key entries), except the keys in NOT_EXPOSED;
// - text sensors decoding the status code and the fault/warning bits: the texts are computed by Home
//   Assistant from the state topic's JSON with a value_template generated from the table's texts, so the
//   octolux topics stay as they are and no extra state topic is needed;
// - a switch per boolean command and a number per integer command (state from hold/<reg>, commands on
//   cmd/<name> with payloads the bridge accepts: "on"/"off", a plain integer);
// - a text entity per time-of-use slot (HH:MM-HH:MM on cmd/<kind>_slot/<n>, state slot/<kind>/<n>).

import { blockKeys, type InputBlock, inputKeyInfo } from "./inputs.ts";
import { FAULT_TEXTS, findRegister, type RegisterDef, STATUS_TEXTS, WARNING_TEXTS } from "./registers.ts";
import { COMMANDS } from "./commands.ts";
import { SLOT_KINDS, SLOT_NUMBERS } from "./slots.ts";
import {
  type DiscoveryMessage,
  type DiscoveryMode,
  discoveryPayloads,
  type HaAvailability,
  type HaComponent,
  type HaDeviceSpec,
} from "../mqtt/ha_discovery.ts";

import { type TopicLayout, topicLayout } from "./topics.ts";
import { LXP_BRIDGE_KEYS } from "./lxp_bridge_inputs.ts";

export type { DiscoveryMessage } from "../mqtt/ha_discovery.ts";

export interface DiscoveryOptions {
  /** Topic prefix of the bridge (octolux). */
  prefix: string;
  /** Home Assistant discovery prefix (homeassistant). */
  discoveryPrefix: string;
  datalog: string;
  serial: string;
  /** device (one config with every entity; default) or entity (one config per entity). */
  mode?: DiscoveryMode;
  /** The [lxp.NAME] name when several inverters run: one HA device per inverter, ids made unique by serial. */
  name?: string;
  /** Topic names (default: the octolux layout of `prefix`). */
  layout?: TopicLayout;
}

/** Keys of inputs/1..4 that get no entity, and why. */
export const NOT_EXPOSED: Readonly<Record<string, string>> = Object.fromEntries([
  ...Array.from(
    { length: 10 },
    (_, n) => [`bat_status_${n}`, "raw BMS status byte whose meaning is undocumented"],
  ),
  ["bat_status_inv", "raw battery status byte whose meaning is undocumented"],
]);

/** The pattern of a slot text entity: HH:MM-HH:MM, 24-hour clock. */
export const SLOT_PATTERN = "^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$";

const ICONS: Readonly<Record<string, string>> = {
  ac_charge: "mdi:transmission-tower-import",
  forced_discharge: "mdi:battery-arrow-down",
  charge_priority: "mdi:battery-arrow-up",
  charge_pct: "mdi:battery-charging",
  discharge_pct: "mdi:battery-minus",
  charge_amount_pct: "mdi:battery-lock",
  slot: "mdi:clock-time-four-outline",
};

/** A Jinja string literal. */
const q = (s: string) => `'${s.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;

/** A Jinja dict literal {code: 'text', …}, codes ascending. */
function jinjaDict(table: Readonly<Record<number, string>>): string {
  const entries = Object.entries(table).map(([k, v]) => [Number(k), v] as const).sort((a, b) => a[0] - b[0]);
  return `{${entries.map(([k, v]) => `${k}: ${q(v)}`).join(", ")}}`;
}

/** statusText(code) as a Jinja template over the state JSON. */
function statusTemplate(key: string): string {
  return `{{ ${
    jinjaDict(STATUS_TEXTS)
  }.get(value_json.${key}, 'unknown status 0x%02x' | format(value_json.${key})) }}`;
}

/** faultTexts/warningTexts joined with ", " ("none" when no bit is set; cut to HA's 255 characters). */
function bitsTemplate(key: string, letter: string, table: Readonly<Record<number, string>>): string {
  return `{% set t = ${jinjaDict(table)} %}{% set v = value_json.${key} | int %}` +
    `{% set ns = namespace(s=[]) %}{% for b in range(32) if (v // 2 ** b) % 2 == 1 %}` +
    `{% set ns.s = ns.s + ['${letter}%03d %s' | format(b, t.get(b, 'unknown'))] %}{% endfor %}` +
    `{{ (ns.s | join(', ') or 'none')[:255] }}`;
}

function sensor(key: string, block: InputBlock, layout: TopicLayout): HaComponent[] {
  const info = inputKeyInfo(key);
  if (!info) throw new Error(`discovery: no register-table entry for inputs key "${key}"`);
  // lxp-bridge's JSON names registers by the table key (v_ac_r, not octolux's v_acr) and has fewer keys
  let jsonKey = key;
  if (layout.layout === "lxp-bridge") {
    if (!LXP_BRIDGE_KEYS[block].includes(key)) jsonKey = (info as RegisterDef).key ?? key;
    if (!LXP_BRIDGE_KEYS[block].includes(jsonKey)) return [];
  }
  const stateTopic = layout.state(`inputs/${block}`);
  const options: Record<string, unknown> = {
    state_topic: stateTopic,
    value_template: `{{ value_json.${jsonKey} }}`,
  };
  if (info.unit) options.unit_of_measurement = info.unit;
  if (info.deviceClass) options.device_class = info.deviceClass;
  if (info.stateClass) options.state_class = info.stateClass;
  if (info.diagnostic) options.entity_category = "diagnostic";
  if (info.icon) options.icon = info.icon;
  const out: HaComponent[] = [{ key, platform: "sensor", name: info.name, options }];
  const def = info as RegisterDef;
  if (def.textName && (def.kind === "status" || def.kind === "fault" || def.kind === "warning")) {
    const template = def.kind === "status" ? statusTemplate(jsonKey) : bitsTemplate(
      jsonKey,
      def.kind === "fault" ? "E" : "W",
      def.kind === "fault" ? FAULT_TEXTS : WARNING_TEXTS,
    );
    const text: Record<string, unknown> = { state_topic: stateTopic, value_template: template };
    if (def.kind !== "status") text.entity_category = "diagnostic";
    if (def.icon) text.icon = def.icon;
    out.push({ key: `${def.kind}_text`, platform: "sensor", name: def.textName, options: text });
  }
  return out;
}

/** Every entity of the inverter, in order: sensors by block, switches, numbers, slots. */
function inverterComponents(layout: TopicLayout): HaComponent[] {
  const out: HaComponent[] = [];
  for (const block of [1, 2, 3, 4] as InputBlock[]) {
    for (const key of blockKeys(block)) {
      if (key in NOT_EXPOSED) continue;
      out.push(...sensor(key, block, layout));
    }
  }
  const commandTopic = (name: string, register?: number) =>
    (layout.encodeCommand(name, "") ??
      (register === undefined ? undefined : layout.encodeCommand(`set_hold/${register}`, "")))?.topic;
  for (const c of COMMANDS) {
    const command_topic = commandTopic(c.name, c.register);
    if (c.value.kind !== "bool" || !command_topic) continue;
    out.push({
      key: c.name,
      platform: "switch",
      name: c.label,
      options: {
        command_topic,
        payload_on: "on",
        payload_off: "off",
        state_topic: layout.state(`hold/${c.register}`),
        value_template: `{{ 'on' if ((value | int) // ${2 ** c.value.bit}) % 2 == 1 else 'off' }}`,
        state_on: "on",
        state_off: "off",
        icon: ICONS[c.name],
      },
    });
  }
  for (const c of COMMANDS) {
    const command_topic = commandTopic(c.name, c.register);
    if (c.value.kind !== "int" || !command_topic) continue;
    out.push({
      key: c.name,
      platform: "number",
      name: c.label,
      options: {
        command_topic,
        command_template: "{{ value | int }}",
        state_topic: layout.state(`hold/${c.register}`),
        min: c.value.min,
        max: c.value.max,
        step: 1,
        mode: "box",
        unit_of_measurement: findRegister("hold", c.register)?.unit || "%",
        icon: ICONS[c.name],
      },
    });
  }
  for (const kind of SLOT_KINDS) {
    for (const n of SLOT_NUMBERS) {
      const command_topic = commandTopic(`${kind.name}_slot/${n}`);
      if (!command_topic) continue;
      out.push({
        key: `${kind.name}_slot_${n}`,
        platform: "text",
        name: `${kind.label} slot ${n}`,
        options: {
          command_topic,
          command_template: "{{ value }}",
          state_topic: layout.state(`slot/${kind.name}/${n}`),
          min: 11,
          max: 11,
          mode: "text",
          pattern: SLOT_PATTERN,
          entity_category: "config",
          icon: ICONS.slot,
        },
      });
    }
  }
  return out;
}

/**
 * One availability document, retained on <prefix>/status (also the last will), so nothing reads as online
 * while the bridge is gone: with one inverter "online" (bridge running, dongle link up), "inverter_offline"
 * or "offline"; with several ([lxp.NAME]) a JSON object {"NAME": "online" | "inverter_offline", …} while
 * the bridge runs, "offline" when it is gone.
 */
function inverterAvailability(layout: TopicLayout, name?: string): HaAvailability {
  // lxp-bridge topics keep lxp-bridge's plain LWT (online/offline) whatever the number of inverters
  const template = name && layout.layout === "octolux"
    ? `{{ 'online' if value_json is defined and value_json is mapping and value_json.get('${name}') == 'online' else 'offline' }}`
    : "{{ 'online' if value == 'online' else 'offline' }}";
  return {
    topic: layout.status,
    value_template: template,
    payload_available: "online",
    payload_not_available: "offline",
  };
}

/**
 * The device id of an inverter: "ess2mqtt_<datalog>" (lower case); a named inverter (several in one
 * serve) adds its serial, as a master/slave pair may share a dongle.
 */
export function inverterDeviceId(datalog: string, serial?: string): string {
  return serial
    ? `ess2mqtt_${datalog.toLowerCase()}_${serial.toLowerCase()}`
    : `ess2mqtt_${datalog.toLowerCase()}`;
}

function inverterDeviceSpec(o: DiscoveryOptions): HaDeviceSpec {
  const id = inverterDeviceId(o.datalog, o.name ? o.serial : undefined);
  const layout = o.layout ?? topicLayout({ layout: "octolux", prefix: o.prefix, datalog: o.datalog });
  return {
    discoveryPrefix: o.discoveryPrefix,
    id,
    device: {
      identifiers: [id],
      name: o.name ? `LuxPower ${o.name} (${o.serial})` : `LuxPower ${o.serial}`,
      manufacturer: "LuxPower",
      model: "LXP inverter",
      serial_number: o.serial,
    },
    availability: [inverterAvailability(layout, o.name)],
    components: inverterComponents(layout),
  };
}

/** The retained discovery messages of the inverter (one in device mode, one per entity in entity mode). */
export function discoveryMessages(o: DiscoveryOptions): DiscoveryMessage[] {
  return discoveryPayloads(o.mode ?? "device", inverterDeviceSpec(o));
}
