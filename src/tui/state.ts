// PURE: what the dashboard shows, folded from the MQTT messages the bridges publish.
// inputs/1..4 (octolux JSON), hold/<reg>, result/<cmd>, status, inverter, and Venus N/… topics.

import { findRegister, formatValue, scaledValue } from "../lxp/registers.ts";

export interface DashboardState {
  prefix: string;
  /** The bridge's availability topic when it is not <prefix>/status (named inverters, lxp-bridge topics). */
  statusTopic?: string;
  inputs: Record<string, Record<string, number>>;
  inputsAt: Record<string, number>;
  holds: Map<number, number>;
  dbus: Map<string, string>;
  results: { command: string; result: string; at: number }[];
  bridge: string;
  inverter: string;
  portal?: string;
  messages: number;
}

export function emptyState(prefix: string, statusTopic?: string): DashboardState {
  return {
    prefix,
    ...(statusTopic && statusTopic !== `${prefix}/status` ? { statusTopic } : {}),
    inputs: {},
    inputsAt: {},
    holds: new Map(),
    dbus: new Map(),
    results: [],
    bridge: "?",
    inverter: "?",
    messages: 0,
  };
}

const decoder = new TextDecoder();

/** Folds one MQTT message into the state (mutates and returns it). Unknown topics are ignored. */
export function applyMessage(
  state: DashboardState,
  topic: string,
  payload: Uint8Array,
  now = Date.now(),
): DashboardState {
  state.messages++;
  const text = decoder.decode(payload);
  const p = state.prefix + "/";
  if (topic === state.statusTopic) {
    state.bridge = text;
    return state;
  }
  if (topic.startsWith(p)) {
    const rest = topic.slice(p.length);
    if (rest.startsWith("inputs/")) {
      try {
        const block = rest.slice("inputs/".length);
        state.inputs[block] = JSON.parse(text);
        state.inputsAt[block] = now;
      } catch { /* not JSON: ignore */ }
    } else if (rest.startsWith("hold/")) {
      const reg = Number(rest.slice(5));
      const value = Number(text);
      if (Number.isInteger(reg) && Number.isFinite(value)) state.holds.set(reg, value);
    } else if (rest.startsWith("result/")) {
      state.results.unshift({ command: rest.slice(7), result: text, at: now });
      state.results.length = Math.min(state.results.length, 20);
    } else if (rest === "status") {
      // The availability document: online | inverter_offline | offline (README "Availability").
      state.bridge = text === "inverter_offline" ? "online" : text;
      if (text === "online") state.inverter = "online";
      else if (text === "inverter_offline") state.inverter = "offline";
      else if (text === "offline") state.inverter = "?";
    } else if (rest === "inverter" && text !== "") state.inverter = text;
    return state;
  }
  if (topic.startsWith("N/")) {
    const parts = topic.split("/");
    if (parts.length < 3) return state;
    state.portal ??= parts[1];
    const key = parts.slice(2).join("/");
    if (text === "") state.dbus.delete(key);
    else {
      try {
        const v = JSON.parse(text);
        state.dbus.set(key, JSON.stringify(v && typeof v === "object" && "value" in v ? v.value : v));
      } catch {
        state.dbus.set(key, text);
      }
    }
  }
  return state;
}

/** Holding registers as display rows: number, name, scaled value with unit (from the register table). */
export function holdingRows(state: DashboardState): { register: number; name: string; value: string }[] {
  return [...state.holds.entries()].sort((a, b) => a[0] - b[0]).map(([register, raw]) => {
    const def = findRegister("hold", register);
    if (!def) return { register, name: `hold ${register}`, value: String(raw) };
    const words = def.words === 2 ? [raw, state.holds.get(register + 1) ?? 0] : [raw];
    return { register, name: def.name, value: formatValue(def, scaledValue(def, words)) };
  });
}

/** D-Bus values grouped by service (`type/instance`), paths sorted. */
export function dbusTree(
  state: DashboardState,
): { service: string; items: { path: string; value: string }[] }[] {
  const groups = new Map<string, { path: string; value: string }[]>();
  for (const [key, value] of state.dbus) {
    const parts = key.split("/");
    const service = parts.length > 2 ? `${parts[0]}/${parts[1]}` : parts[0];
    const path = parts.length > 2 ? parts.slice(2).join("/") : parts.slice(1).join("/");
    if (!groups.has(service)) groups.set(service, []);
    groups.get(service)!.push({ path, value });
  }
  return [...groups.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([service, items]) => ({
    service,
    items: items.sort((a, b) => a.path.localeCompare(b.path)),
  }));
}
