// PURE: MQTT topic layouts of the LuxPower bridge — layout × inverter → topic names, and command topics
// parsed into the bridge's own command names (src/lxp/commands.ts) and back. The bridge, the MQTT register
// transport (one-shot commands with --via mqtt) and HA discovery all name topics through one TopicLayout.
//
// octolux (the seed's, spec §5.1): <prefix>/inputs/N, <prefix>/hold/<reg>, <prefix>/cmd/<cmd> →
//   <prefix>/result/<cmd>, <prefix>/inverter, <prefix>/status. With named inverters ([lxp.NAME] sections)
//   every topic but status gets the name: <prefix>/NAME/inputs/1, <prefix>/NAME/cmd/<cmd> …
// lxp-bridge (spec §5.2; <prefix> is lxp-bridge's namespace, default lxp): <ns>/<datalog>/inputs/N,
//   <ns>/<datalog>/hold/<reg> (retained), <ns>/cmd/<datalog|all>/<read|set>/… → <ns>/result/<datalog>/…,
//   <ns>/LWT.
//
// A layout speaks in the octolux-relative names the bridge has always used ("inputs/1", "hold/21",
// "inverter", "status", "slot/ac_charge/1") and maps them to its own topics with state().

import { findSlotKind, SLOT_KINDS, slotRegisters } from "./slots.ts";

export const TOPIC_LAYOUTS = ["octolux", "lxp-bridge"] as const;
export type TopicLayoutName = (typeof TOPIC_LAYOUTS)[number];

/** Inverter names that would collide with the octolux topics below the prefix. */
export const RESERVED_INVERTER_NAMES: readonly string[] = [
  "status",
  "inverter",
  "inputs",
  "hold",
  "cmd",
  "result",
  "slot",
];

export interface TopicLayoutOptions {
  layout: TopicLayoutName;
  /** octolux: the topic prefix; lxp-bridge: the namespace. */
  prefix: string;
  /** octolux: the [lxp.NAME] name; empty or absent: the seed's topics without a name. */
  name?: string;
  /** The dongle serial (lxp-bridge topics name the inverter by it). */
  datalog: string;
}

/** A command topic understood: the bridge's command name and payload, and where its OK/FAIL goes. */
export interface ParsedCommand {
  name: string;
  payload: string;
  resultTopic: string;
}

/** A command of the bridge's own naming, as this layout publishes it. */
export interface EncodedCommand {
  topic: string;
  payload: string;
  resultTopic: string;
}

export interface TopicLayout {
  readonly layout: TopicLayoutName;
  /** The bridge's availability: online/offline, retained, the MQTT last will. */
  readonly status: string;
  /** The topic of an octolux-relative name: inverter, inputs/<n>, inputs/all, hold/<reg>, slot/<kind>/<n> … */
  state(rest: string): string;
  /** Whether hold/<reg> (and slot) values are published retained (lxp-bridge: yes, octolux: no). */
  readonly retainHold: boolean;
  /** A filter matching every result topic of this inverter. */
  readonly resultFilter: string;
  /** The filters to subscribe to for commands. */
  readonly commandFilters: readonly string[];
  /** A message on one of commandFilters → the command; undefined when the topic names no command. */
  parseCommand(topic: string, payload: string): ParsedCommand | undefined;
  /** The inverse, for clients (the --via mqtt transport, discovery); undefined when the layout has none. */
  encodeCommand(name: string, payload: string): EncodedCommand | undefined;
}

/** The four time-slot kinds (spec §4/§5.2); the bridge's slot commands are `<kind>_slot/<n>`. */
const SLOT_NAMES = SLOT_KINDS.map((k) => k.name);

export function topicLayout(o: TopicLayoutOptions): TopicLayout {
  return o.layout === "lxp-bridge" ? lxpBridgeLayout(o) : octoluxLayout(o);
}

function octoluxLayout(o: TopicLayoutOptions): TopicLayout {
  const base = o.name ? `${o.prefix}/${o.name}` : o.prefix;
  const status = `${o.prefix}/status`;
  const cmd = `${base}/cmd/`;
  return {
    layout: "octolux",
    status,
    state: (rest) => (rest === "status" ? status : `${base}/${rest}`),
    retainHold: false,
    resultFilter: `${base}/result/#`,
    commandFilters: [`${base}/cmd/#`],
    parseCommand(topic, payload) {
      if (!topic.startsWith(cmd) || topic.length === cmd.length) return undefined;
      const name = topic.slice(cmd.length);
      return { name, payload, resultTopic: `${base}/result/${name}` };
    },
    encodeCommand: (name, payload) => ({
      topic: `${cmd}${name}`,
      payload,
      resultTopic: `${base}/result/${name}`,
    }),
  };
}

/** lxp-bridge's `set/<x>` register commands → the bridge's commands (spec §5.2 table). */
const LXPB_SET: Record<string, string> = {
  ac_charge: "ac_charge",
  charge_priority: "charge_priority",
  forced_discharge: "forced_discharge",
  charge_rate_pct: "charge_pct",
  discharge_rate_pct: "discharge_pct",
  ac_charge_rate_pct: "set_hold/66",
  ac_charge_soc_limit_pct: "charge_amount_pct",
  discharge_cutoff_soc_limit_pct: "set_hold/105",
};
const LXPB_SET_BACK: Record<string, string> = Object.fromEntries(
  Object.entries(LXPB_SET).filter(([, v]) => !v.startsWith("set_hold/")).map(([k, v]) => [v, k]),
);

function lxpBridgeLayout(o: TopicLayoutOptions): TopicLayout {
  const ns = o.prefix;
  const dl = o.datalog;
  const status = `${ns}/LWT`;
  const result = (rest: string) => `${ns}/result/${dl}/${rest}`;
  const heads = [`${ns}/cmd/${dl}/`, `${ns}/cmd/all/`];
  return {
    layout: "lxp-bridge",
    status,
    state(rest) {
      if (rest === "status") return status;
      if (rest.startsWith("slot/")) return `${ns}/${dl}/${rest.slice("slot/".length)}`;
      return `${ns}/${dl}/${rest}`;
    },
    retainHold: true,
    resultFilter: `${ns}/result/${dl}/#`,
    commandFilters: heads.map((h) => `${h}#`),
    parseCommand(topic, payload) {
      const head = heads.find((h) => topic.startsWith(h));
      if (!head) return undefined;
      const rest = topic.slice(head.length);
      const name = lxpBridgeCommand(rest, payload);
      return name && { ...name, resultTopic: result(rest) };
    },
    encodeCommand(name, payload) {
      const rest = lxpBridgeRest(name, payload);
      return rest &&
        { topic: `${ns}/cmd/${dl}/${rest.rest}`, payload: rest.payload, resultTopic: result(rest.rest) };
    },
  };
}

const trimmed = (s: string) => s.trim();

/** `read/…` / `set/…` (the part after <ns>/cmd/<datalog>/) → the bridge's command. */
function lxpBridgeCommand(rest: string, payload: string): { name: string; payload: string } | undefined {
  const parts = rest.split("/");
  const [verb, what, arg] = parts;
  if (verb === "read") {
    if (parts.length !== 3) return undefined;
    if (what === "inputs") return { name: "read_input", payload: arg };
    if (what === "hold") {
      const count = trimmed(payload);
      return { name: "read_hold", payload: count === "" ? arg : `${arg},${count}` };
    }
    const kind = findSlotKind(what);
    if (kind && /^[1-3]$/.test(arg)) {
      return { name: "read_hold", payload: `${slotRegisters(kind, Number(arg)).start},2` };
    }
    return undefined;
  }
  if (verb === "set") {
    if (parts.length === 2 && LXPB_SET[what]) return { name: LXPB_SET[what], payload };
    if (parts.length === 3 && what === "hold") return { name: `set_hold/${arg}`, payload };
    if (parts.length === 3 && SLOT_NAMES.includes(what)) return { name: `${what}_slot/${arg}`, payload };
  }
  return undefined;
}

/** The bridge's command → lxp-bridge's `read/…` / `set/…` and payload. */
function lxpBridgeRest(name: string, payload: string): { rest: string; payload: string } | undefined {
  if (name === "read_input") return { rest: `read/inputs/${trimmed(payload)}`, payload: "" };
  if (name === "read_hold") {
    const [reg, count] = payload.split(",");
    return { rest: `read/hold/${trimmed(reg)}`, payload: count === undefined ? "" : trimmed(count) };
  }
  if (name.startsWith("set_hold/")) return { rest: `set/hold/${name.slice("set_hold/".length)}`, payload };
  if (LXPB_SET_BACK[name]) return { rest: `set/${LXPB_SET_BACK[name]}`, payload };
  const slot = /^([a-z_]+)_slot\/(.*)$/.exec(name);
  if (slot && SLOT_NAMES.includes(slot[1])) return { rest: `set/${slot[1]}/${slot[2]}`, payload };
  return undefined;
}
