// PURE: the inverter's time-of-use windows (spec §4: three slots per kind, two holding registers per
// slot, value = hour + 256·minute) — the one table, and the text forms users write them in.

import { findByKey } from "./registers.ts";

export interface SlotKind {
  /** ac_charge, ac_first, charge_priority, forced_discharge (topic and CLI name). */
  name: string;
  label: string;
  /** Key prefix of the registers in the register table (`<registerKey>_start_<n>`). */
  registerKey: string;
}

export const SLOT_KINDS: readonly SlotKind[] = [
  { name: "ac_charge", label: "AC charge", registerKey: "ac_charge" },
  { name: "ac_first", label: "AC first", registerKey: "ac_first" },
  { name: "charge_priority", label: "Charge priority", registerKey: "forced_charge" },
  { name: "forced_discharge", label: "Forced discharge", registerKey: "forced_discharge" },
];

export const SLOT_NUMBERS = [1, 2, 3] as const;

export function findSlotKind(name: string): SlotKind | undefined {
  return SLOT_KINDS.find((k) => k.name === name);
}

/** The start and end holding registers of slot n (1–3) of a kind, from the register table. */
export function slotRegisters(kind: SlotKind, n: number): { start: number; end: number } {
  const start = findByKey("hold", `${kind.registerKey}_start_${n}`);
  const end = findByKey("hold", `${kind.registerKey}_end_${n}`);
  if (!start || !end) throw new RangeError(`no registers for ${kind.name} slot ${n}`);
  return { start: start.register, end: end.register };
}

export interface SlotTime {
  hour: number;
  minute: number;
}
export interface Slot {
  start: SlotTime;
  end: SlotTime;
}

/** Register value of a time: low byte hour, high byte minute. */
export function encodeSlotTime(t: SlotTime): number {
  return t.hour | (t.minute << 8);
}

export function decodeSlotTime(raw: number): SlotTime {
  return { hour: raw & 0xff, minute: (raw >>> 8) & 0xff };
}

const pad2 = (n: number) => String(n).padStart(2, "0");

/** "HH:MM" */
export function formatSlotTime(t: SlotTime): string {
  return `${pad2(t.hour)}:${pad2(t.minute)}`;
}

/** "HH:MM-HH:MM" */
export function formatSlot(s: Slot): string {
  return `${formatSlotTime(s.start)}-${formatSlotTime(s.end)}`;
}

/** {"start":"HH:MM","end":"HH:MM"} (lxp-bridge's slot JSON) */
export function slotJson(s: Slot): string {
  return JSON.stringify({ start: formatSlotTime(s.start), end: formatSlotTime(s.end) });
}

function parseTime(text: string): SlotTime | string {
  const m = /^([0-9]{1,2}):([0-9]{2})$/.exec(text);
  if (!m) return `"${text}" is not HH:MM`;
  const hour = Number(m[1]), minute = Number(m[2]);
  if (hour > 23) return `hour ${hour} in "${text}" is not 0–23`;
  if (minute > 59) return `minute ${minute} in "${text}" is not 0–59`;
  return { hour, minute };
}

/**
 * `HH:MM-HH:MM` or `{"start":"HH:MM","end":"HH:MM"}` (ASCII whitespace around allowed) → a slot, or an
 * error message naming the bad value. 00:00-00:00 is a valid (disabled) slot.
 */
export function parseSlot(payload: string): Slot | string {
  const text = payload.replace(/^[ \t\n\r]+|[ \t\n\r]+$/g, "");
  let start: string, end: string;
  if (text.startsWith("{")) {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      return `${JSON.stringify(payload)} is not valid JSON`;
    }
    const o = doc as { start?: unknown; end?: unknown };
    if (typeof o !== "object" || o === null || typeof o.start !== "string" || typeof o.end !== "string") {
      return `${JSON.stringify(payload)} needs "start" and "end" as "HH:MM" strings`;
    }
    start = o.start;
    end = o.end;
  } else {
    const parts = text.split("-");
    if (parts.length !== 2) return `${JSON.stringify(payload)} is not HH:MM-HH:MM`;
    [start, end] = parts;
  }
  const s = parseTime(start), e = parseTime(end);
  if (typeof s === "string") return s;
  if (typeof e === "string") return e;
  return { start: s, end: e };
}

/** MQTT command names of the slots: `<kind>_slot/<n>` (e.g. `ac_charge_slot/1`). */
export const SLOT_COMMAND = /^(ac_charge|ac_first|charge_priority|forced_discharge)_slot\/([^/]*)$/;

/** `<kind>_slot/<n>` → kind and slot number text (not yet validated), or undefined. */
export function slotCommandParts(name: string): { kind: SlotKind; nText: string } | undefined {
  const m = SLOT_COMMAND.exec(name);
  const kind = m ? findSlotKind(m[1]) : undefined;
  return m && kind ? { kind, nText: m[2] } : undefined;
}

/** The slot number 1–3, or undefined. */
export function parseSlotNumber(text: string): number | undefined {
  return /^[1-3]$/.test(text) ? Number(text) : undefined;
}

/** Which slot (kind, n) a holding register belongs to, and whether it is the start or the end. */
export function slotOfRegister(
  register: number,
): { kind: SlotKind; n: number; part: "start" | "end" } | undefined {
  for (const kind of SLOT_KINDS) {
    for (const n of SLOT_NUMBERS) {
      const r = slotRegisters(kind, n);
      if (register === r.start) return { kind, n, part: "start" };
      if (register === r.end) return { kind, n, part: "end" };
    }
  }
  return undefined;
}

/** A slot from its two register values. */
export function slotFromRegisters(start: number, end: number): Slot {
  return { start: decodeSlotTime(start), end: decodeSlotTime(end) };
}
