// PURE: what the console shows, folded from source events (the MQTT topics of the bridges, or the dongle
// and the bus themselves in --via direct). No I/O, no timers: `now` is passed in.

import type { InputBlock } from "../lxp/inputs.ts";

export type Via = "mqtt" | "direct";
export type LinkName = "broker" | "inverter" | "dbus";
export type LinkState = "up" | "down" | "unknown" | "n/a";

export interface LinkInfo {
  state: LinkState;
  /** When the state last changed (ms). */
  since: number;
}

export interface HoldInfo {
  raw: number;
  /** Last time the value was seen. */
  at: number;
  /** Last time it changed (first sight counts). */
  changedAt: number;
  /** The last update changed a value seen before. */
  changed: boolean;
}

export interface DbusPath {
  json: unknown;
  invalid: boolean;
  at: number;
}

export interface DbusService {
  /** `type/instance`, e.g. vebus/257 */
  key: string;
  paths: Map<string, DbusPath>;
  /** Left the bus (greyed, values kept). */
  gone: boolean;
  /** Paths sorted; rebuilt when a path appears. */
  sorted?: string[];
}

export interface DashboardState {
  via: Via;
  /** Broker URI or dongle address, for the header. */
  where: string;
  prefix: string;
  links: Record<LinkName, LinkInfo>;
  portal?: string;
  lastMessageAt?: number;
  inputs: Partial<Record<InputBlock, Record<string, number>>>;
  inputsAt: Partial<Record<InputBlock, number>>;
  /** Keys whose value changed in the block's last update. */
  inputsChanged: Partial<Record<InputBlock, Set<string>>>;
  holds: Map<number, HoldInfo>;
  services: Map<string, DbusService>;
  results: { command: string; result: string; at: number }[];
  messages: number;
  /** Bumped on every change (the view redraws when it moved). */
  version: number;
  /** Bumped when a D-Bus service or path appears or goes (the D-Bus rows are rebuilt then). */
  structure: number;
}

export type TuiEvent =
  /** detail: why it went down (the link's last error), for the log line; absent: not configured. */
  | { kind: "link"; link: LinkName; up: boolean; detail?: string; absent?: boolean }
  | { kind: "inputs"; block: InputBlock; json: Record<string, number> }
  | { kind: "hold"; register: number; values: number[] }
  | { kind: "dbusValue"; service: string; path: string; json: unknown; invalid?: boolean }
  /** A path was cleared (empty payload): the value is gone. */
  | { kind: "dbusClear"; service: string; path: string }
  | { kind: "dbusService"; service: string; gone: boolean }
  | { kind: "portal"; portal: string }
  | { kind: "result"; command: string; result: string };

export function emptyState(via: Via, where: string, prefix = "octolux", now = 0): DashboardState {
  const link = (state: LinkState): LinkInfo => ({ state, since: now });
  return {
    via,
    where,
    prefix,
    links: {
      broker: link(via === "mqtt" ? "unknown" : "n/a"),
      inverter: link("unknown"),
      dbus: link("unknown"),
    },
    inputs: {},
    inputsAt: {},
    inputsChanged: {},
    holds: new Map(),
    services: new Map(),
    results: [],
    messages: 0,
    version: 0,
    structure: 0,
  };
}

function service(state: DashboardState, key: string): DbusService {
  let s = state.services.get(key);
  if (!s) {
    state.services.set(key, s = { key, paths: new Map(), gone: false });
    state.structure++;
  }
  return s;
}

/**
 * Folds one event into the state (mutates it). Returns a one-line note when a link changed state (the
 * caller logs it: one line per change, not one per retry), else undefined.
 */
export function applyEvent(state: DashboardState, ev: TuiEvent, now: number): string | undefined {
  state.version++;
  switch (ev.kind) {
    case "link": {
      const info = state.links[ev.link];
      if (ev.absent) {
        state.links[ev.link] = { state: "n/a", since: now };
        return undefined;
      }
      const next: LinkState = ev.up ? "up" : "down";
      if (info.state === next) return undefined;
      const was = info.state;
      state.links[ev.link] = { state: next, since: now };
      if (was === "unknown" && next === "up") return undefined;
      return next === "up" ? `${ev.link} back` : `${ev.link} lost${ev.detail ? ` (${ev.detail})` : ""}`;
    }
    case "inputs": {
      state.messages++;
      state.lastMessageAt = now;
      const prev = state.inputs[ev.block];
      const changed = new Set<string>();
      if (prev) { for (const k in ev.json) if (prev[k] !== ev.json[k]) changed.add(k); }
      state.inputs[ev.block] = ev.json;
      state.inputsAt[ev.block] = now;
      state.inputsChanged[ev.block] = changed;
      return undefined;
    }
    case "hold": {
      state.messages++;
      state.lastMessageAt = now;
      ev.values.forEach((raw, i) => {
        const reg = ev.register + i;
        const old = state.holds.get(reg);
        const changed = old !== undefined && old.raw !== raw;
        state.holds.set(reg, { raw, at: now, changedAt: old && !changed ? old.changedAt : now, changed });
      });
      return undefined;
    }
    case "dbusValue": {
      state.messages++;
      state.lastMessageAt = now;
      const s = service(state, ev.service);
      s.gone = false;
      const invalid = ev.invalid ?? ev.json === null;
      const p = s.paths.get(ev.path);
      if (p) {
        // in place: a flood of changes makes no garbage here
        p.json = ev.json;
        p.invalid = invalid;
        p.at = now;
      } else {
        s.paths.set(ev.path, { json: ev.json, invalid, at: now });
        s.sorted = undefined;
        state.structure++;
      }
      return undefined;
    }
    case "dbusClear": {
      state.messages++;
      state.lastMessageAt = now;
      const s = state.services.get(ev.service);
      if (!s) return undefined;
      // The identity paths are always kept alive by the console: their clearing means the device left.
      if (IDENTITY_PATHS.includes(ev.path)) s.gone = true;
      else if (!s.gone && s.paths.delete(ev.path)) {
        s.sorted = undefined;
        state.structure++;
      }
      return undefined;
    }
    case "dbusService": {
      service(state, ev.service).gone = ev.gone;
      return undefined;
    }
    case "portal":
      state.portal = ev.portal;
      if (state.links.dbus.state === "unknown") state.links.dbus = { state: "up", since: now };
      return undefined;
    case "result":
      state.messages++;
      state.lastMessageAt = now;
      state.results.unshift({ command: ev.command, result: ev.result, at: now });
      state.results.length = Math.min(state.results.length, 20);
      return undefined;
  }
}

/** Paths every Venus device has; the console's keep-alive always covers them (src/tui/source_mqtt.ts). */
export const IDENTITY_PATHS = ["/ProductName", "/CustomName", "/DeviceInstance"];

const decoder = new TextDecoder();

/** The inverter topics the console follows: its base (<prefix> or <prefix>/NAME) and the status document. */
export interface InverterTopics {
  base: string;
  status: string;
  /** Several inverters: the name whose entry of the JSON status document counts. */
  name?: string;
}

/** <prefix>/status → the inverter link: "online" up; "inverter_offline"/"offline" down; JSON: its entry. */
function statusEvents(topics: InverterTopics, text: string): TuiEvent[] {
  let state = text;
  if (topics.name && text.startsWith("{")) {
    try {
      state = String((JSON.parse(text) as Record<string, unknown>)[topics.name] ?? "offline");
    } catch { /* not JSON: take the text */ }
  }
  if (state === "") return [];
  const detail = state === "online"
    ? undefined
    : state === "inverter_offline"
    ? "dongle link down"
    : "bridge offline";
  return [{ kind: "link", link: "inverter", up: state === "online", detail }];
}

/**
 * One MQTT message → events: <base>/inputs/N (octolux JSON), hold/<reg>, result/<cmd>, inverter, the status
 * document, and the dbus-mqtt notifications N/<portal>/<type>/<instance>/<path> ({"value": …}; empty = cleared).
 */
export function mqttEvents(topics: InverterTopics | string, topic: string, payload: Uint8Array): TuiEvent[] {
  const t = typeof topics === "string" ? { base: topics, status: `${topics}/status` } : topics;
  const text = decoder.decode(payload);
  if (topic === t.status) return statusEvents(t, text);
  const p = t.base + "/";
  if (topic.startsWith(p)) {
    const rest = topic.slice(p.length);
    if (rest.startsWith("inputs/")) {
      const block = Number(rest.slice(7));
      if (![1, 2, 3, 4].includes(block)) return [];
      try {
        const json = JSON.parse(text);
        if (json && typeof json === "object") return [{ kind: "inputs", block: block as InputBlock, json }];
      } catch { /* not JSON: ignore */ }
      return [];
    }
    if (rest.startsWith("hold/")) {
      const reg = Number(rest.slice(5));
      const value = Number(text);
      if (Number.isInteger(reg) && text !== "" && Number.isInteger(value)) {
        return [{ kind: "hold", register: reg, values: [value] }];
      }
      return [];
    }
    if (rest.startsWith("result/")) return [{ kind: "result", command: rest.slice(7), result: text }];
    // (an empty payload clears a retained copy older versions left: not a link change)
    if (rest === "inverter") {
      return text === "" ? [] : [{ kind: "link", link: "inverter", up: text === "online" }];
    }
    return [];
  }
  if (topic.startsWith("N/")) {
    const parts = topic.split("/");
    if (parts.length < 5) return [];
    const events: TuiEvent[] = [{ kind: "portal", portal: parts[1] }];
    const svc = `${parts[2]}/${parts[3]}`;
    const path = "/" + parts.slice(4).join("/");
    if (parts[2] === "heartbeat" || parts[2] === "keepalive" || parts[2] === "full_publish_completed") {
      return events;
    }
    if (text === "") {
      events.push({ kind: "dbusClear", service: svc, path });
      return events;
    }
    let json: unknown = text;
    try {
      const v = JSON.parse(text);
      json = v && typeof v === "object" && !Array.isArray(v) && "value" in v ? v.value : v;
    } catch { /* raw text (fmq's N/…/keepalive = 1) */ }
    events.push({ kind: "dbusValue", service: svc, path, json });
    return events;
  }
  return [];
}

/** Where the inverter and D-Bus values can't be trusted right now. */
export function staleness(state: DashboardState): { lxp: boolean; dbus: boolean; why?: string } {
  if (state.via === "mqtt" && state.links.broker.state === "down") {
    return { lxp: true, dbus: true, why: "broker lost" };
  }
  const lxp = state.links.inverter.state === "down";
  const dbus = state.via === "direct" && state.links.dbus.state === "down";
  const why = lxp && dbus
    ? "inverter and D-Bus lost"
    : lxp
    ? "inverter offline"
    : dbus
    ? "D-Bus lost"
    : undefined;
  return { lxp, dbus, why };
}

/** Services sorted by type then instance (numerically). */
export function sortedServices(state: DashboardState): DbusService[] {
  return [...state.services.values()].sort((a, b) => {
    const [ta, ia] = a.key.split("/"), [tb, ib] = b.key.split("/");
    return ta.localeCompare(tb) || Number(ia) - Number(ib) || ia.localeCompare(ib);
  });
}

export function sortedPaths(s: DbusService): string[] {
  return s.sorted ??= [...s.paths.keys()].sort();
}

/** A D-Bus value as text: JSON, `invalid` for the Venus invalid value. */
export function dbusText(p: DbusPath): string {
  if (p.invalid) return "invalid";
  return typeof p.json === "string" ? p.json : JSON.stringify(p.json) ?? "null";
}

/** The product (or custom) name of a service, when it published one. */
export function productName(s: DbusService): string {
  const c = s.paths.get("/CustomName")?.json;
  const p = s.paths.get("/ProductName")?.json;
  return typeof c === "string" && c ? c : typeof p === "string" ? p : "";
}
