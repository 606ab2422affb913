// PURE: Home Assistant MQTT discovery for chosen Venus D-Bus items ([dbus] discovery_paths): one sensor
// per `<type>/<instance>/<path>`, reading the item's dbus-mqtt topic N/<portal>/<type>/<instance>/<path>
// ({"value": x}). Unit, device class and state class come from the item's last path level when it is a
// known one (Venus D-Bus units: SI, energy in kWh, temperature in °C), else from the unit at the end of
// the item's GetText ("87.5%", "1234W", "52.10V").
//
// The bridge keeps these items published (a keep-alive of its own that never lapses), so their topics
// carry values whenever the bridge runs. An entity is available while the bridge is online
// (<prefix>/status, its last will) and its topic is not empty (the bridge empties it when the device
// leaves the bus).

import {
  type DiscoveryMessage,
  type DiscoveryMode,
  discoveryPayloads,
  type HaComponent,
  type HaDeviceSpec,
} from "../mqtt/ha_discovery.ts";

export interface VenusDiscoveryOptions {
  portal: string;
  /** Topic prefix of the bridge's status topic (<prefix>/status). */
  prefix: string;
  discoveryPrefix: string;
  mode?: DiscoveryMode;
  /** `<type>/<instance>/<path>` items, e.g. "system/0/Dc/Battery/Soc". */
  paths: readonly string[];
  /** GetText of items whose last path level is not a known one (e.g. {"battery/512/Foo": "12.5A"}). */
  texts?: Readonly<Record<string, string>>;
}

interface UnitInfo {
  unit: string;
  deviceClass?: string;
  stateClass?: string;
}

/** Units and Home Assistant classes by unit text. */
const UNITS: Readonly<Record<string, UnitInfo>> = {
  "W": { unit: "W", deviceClass: "power", stateClass: "measurement" },
  "VA": { unit: "VA", deviceClass: "apparent_power", stateClass: "measurement" },
  "V": { unit: "V", deviceClass: "voltage", stateClass: "measurement" },
  "A": { unit: "A", deviceClass: "current", stateClass: "measurement" },
  "Hz": { unit: "Hz", deviceClass: "frequency", stateClass: "measurement" },
  "°C": { unit: "°C", deviceClass: "temperature", stateClass: "measurement" },
  "kWh": { unit: "kWh", deviceClass: "energy", stateClass: "total_increasing" },
  "Ah": { unit: "Ah", stateClass: "measurement" },
  "s": { unit: "s", deviceClass: "duration", stateClass: "measurement" },
  "%": { unit: "%", stateClass: "measurement" },
};

/** Known last path levels → unit (and a name word). */
const LEVELS: Readonly<Record<string, { unit: string; word: string; deviceClass?: string }>> = {
  Soc: { unit: "%", word: "SOC", deviceClass: "battery" },
  Power: { unit: "W", word: "power" },
  P: { unit: "W", word: "power" },
  S: { unit: "VA", word: "apparent power" },
  Voltage: { unit: "V", word: "voltage" },
  V: { unit: "V", word: "voltage" },
  Current: { unit: "A", word: "current" },
  I: { unit: "A", word: "current" },
  F: { unit: "Hz", word: "frequency" },
  Frequency: { unit: "Hz", word: "frequency" },
  Temperature: { unit: "°C", word: "temperature" },
  Forward: { unit: "kWh", word: "forward" },
  Reverse: { unit: "kWh", word: "reverse" },
  ConsumedAmphours: { unit: "Ah", word: "consumed Ah" },
  TimeToGo: { unit: "s", word: "time to go" },
};

/** Name words for path levels. */
const WORDS: Readonly<Record<string, string>> = {
  Pv: "PV",
  PvOnGrid: "PV on grid",
  PvOnOutput: "PV on output",
  ActiveIn: "AC input",
  Out: "output",
  Dc: "DC",
  Ac: "AC",
  ConsumptionOnOutput: "Consumption on output",
  ConsumptionOnInput: "Consumption on input",
};

/** The unit at the end of a GetText ("87.5%" → "%", "1234 W" → "W"), or "". */
export function unitFromText(text: string): string {
  const m = /^\s*-?[0-9]+(?:\.[0-9]+)?\s*([^\s0-9.,-][^\s]*)\s*$/.exec(text);
  return m && m[1] in UNITS ? m[1] : "";
}

/** "system/0/Dc/Battery/Soc" → "system_0_dc_battery_soc". */
function venusEntityKey(item: string): string {
  return item.toLowerCase().replace(/[^a-z0-9]+/g, "_");
}

/** A human name: "system/0/Dc/Battery/Soc" → "Battery SOC"; other services are prefixed "<type> <instance>". */
export function venusEntityName(item: string): string {
  const [type, instance, ...levels] = item.split("/");
  const last = levels[levels.length - 1];
  // AC/DC are implied by the quantity; drop them when more levels follow.
  const body = levels.slice(0, -1).filter((l, i) =>
    !(i === 0 && (l === "Ac" || l === "Dc") && levels.length > 2)
  );
  const words = body.map((l) => WORDS[l] ?? l);
  words.push(LEVELS[last]?.word ?? last.replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase());
  let name = words.join(" ");
  name = name.charAt(0).toUpperCase() + name.slice(1);
  return type === "system" ? name : `${type} ${instance} ${name}`;
}

function unitInfo(item: string, text: string | undefined): UnitInfo & { deviceClass?: string } {
  const last = item.slice(item.lastIndexOf("/") + 1);
  const known = LEVELS[last];
  if (known) {
    const u = UNITS[known.unit];
    return known.deviceClass ? { ...u, deviceClass: known.deviceClass } : u;
  }
  const fromText = text !== undefined ? unitFromText(text) : "";
  return fromText ? UNITS[fromText] : { unit: "" };
}

/** Does the item's unit come from its path (no GetText needed)? */
export function hasKnownUnit(item: string): boolean {
  return item.slice(item.lastIndexOf("/") + 1) in LEVELS;
}

export function venusDeviceId(portal: string): string {
  return `ess2mqtt_venus_${portal.toLowerCase().replace(/[^a-z0-9]+/g, "_")}`;
}

function venusDeviceSpec(o: VenusDiscoveryOptions): HaDeviceSpec {
  // The bridge process is up unless <prefix>/status says "offline" (it may also say "inverter_offline" or
  // carry several inverters' JSON document: the LuxPower side's concern, not the Venus items').
  const status = {
    topic: `${o.prefix}/status`,
    value_template: "{{ 'offline' if value == 'offline' else 'online' }}",
  };
  const components: HaComponent[] = o.paths.map((item) => {
    const topic = `N/${o.portal}/${item}`;
    const u = unitInfo(item, o.texts?.[item]);
    const options: Record<string, unknown> = { state_topic: topic, value_template: "{{ value_json.value }}" };
    if (u.unit) options.unit_of_measurement = u.unit;
    if (u.deviceClass) options.device_class = u.deviceClass;
    if (u.stateClass) options.state_class = u.stateClass;
    options.availability = [status, { topic, value_template: "{{ 'online' if value else 'offline' }}" }];
    options.availability_mode = "all";
    return { key: venusEntityKey(item), platform: "sensor", name: venusEntityName(item), options };
  });
  const id = venusDeviceId(o.portal);
  return {
    discoveryPrefix: o.discoveryPrefix,
    id,
    device: {
      identifiers: [id],
      name: `Victron Venus ${o.portal}`,
      manufacturer: "Victron Energy",
      model: "Venus OS",
    },
    availability: [status],
    components,
  };
}

export function venusDiscoveryMessages(o: VenusDiscoveryOptions): DiscoveryMessage[] {
  return discoveryPayloads(o.mode ?? "device", venusDeviceSpec(o));
}
