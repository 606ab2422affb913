// PURE: the one command table and MQTT command name + payload → the register operation to perform.
//
// The table (COMMANDS) names each command once: its register by key in the register table, the bit for
// boolean commands, the value range for the others, and a label. The MQTT bridge, the CLI `set` command
// and its help, the MQTT transport and Home Assistant discovery all read it.
//
// Other commands: read_input (1–4), read_hold ("<reg>" or "<reg>,<count>"), set_hold/<reg> (0–65535).
// Integers are plain decimal digits, surrounding ASCII whitespace ignored: "50" and " 50 " are accepted;
// "", "abc", "-1", "+5", "50.5", "1e2", "0x10", "150" (for a percentage), "\u00a050" are rejected.

import type { InputBlock } from "./inputs.ts";
import { type BitDef, findByKey, REG21_BITS } from "./registers.ts";
import { type ClockFields, parseClock } from "./clock.ts";
import { encodeSlotTime, parseSlot, parseSlotNumber, slotCommandParts, slotRegisters } from "./slots.ts";

export type CommandPlan =
  | { kind: "setBit"; register: number; bit: number; on: boolean }
  | { kind: "write"; register: number; value: number }
  | { kind: "readInput"; block: InputBlock }
  | { kind: "readHold"; register: number; count: number }
  /** The inverter clock (holdings 12–14, write-multi); no fields = the bridge host's local time when it runs. */
  | { kind: "setClock"; fields?: ClockFields }
  /** Time-of-use slot: both registers written (start, then end), each echo verified. */
  | {
    kind: "writeSlot";
    slot: string;
    n: number;
    start: number;
    end: number;
    startValue: number;
    endValue: number;
  };

/** ok: the plan, and a warning when the payload was accepted by the seed's lenient rule. */
export type PlanResult = { ok: true; plan: CommandPlan; warning?: string } | { ok: false; error: string };

/** A named command: `cmd/<name>` over MQTT, `ess2mqtt set <name> <value>` on the command line. */
export interface CommandDef {
  name: string;
  label: string;
  /** Key of the holding register in the register table, and its number. */
  registerKey: string;
  register: number;
  /** bool: one bit of the register (read-modify-write); int: the whole register, within min–max. */
  value: { kind: "bool"; bit: number; bitKey: string } | { kind: "int"; min: number; max: number };
}

function holding(key: string): number {
  const def = findByKey("hold", key);
  if (!def) throw new Error(`commands.ts: no holding register "${key}"`);
  return def.register;
}

function bitCommand(
  name: string,
  label: string,
  registerKey: string,
  bits: readonly BitDef[],
  bitKey: string,
) {
  const bit = bits.find((b) => b.key === bitKey);
  if (!bit) throw new Error(`commands.ts: no bit "${bitKey}" in ${registerKey}`);
  return {
    name,
    label,
    registerKey,
    register: holding(registerKey),
    value: { kind: "bool", bit: bit.bit, bitKey },
  } as const;
}

function intCommand(name: string, label: string, registerKey: string, min: number, max: number): CommandDef {
  return { name, label, registerKey, register: holding(registerKey), value: { kind: "int", min, max } };
}

export const COMMANDS: readonly CommandDef[] = [
  bitCommand("ac_charge", "AC charge", "func_en", REG21_BITS, "ac_charge_en"),
  bitCommand("forced_discharge", "Forced discharge", "func_en", REG21_BITS, "forced_discharge_en"),
  bitCommand("charge_priority", "Charge priority", "func_en", REG21_BITS, "charge_priority_en"),
  intCommand("charge_pct", "Charge rate", "charge_power_percent_cmd", 0, 100),
  intCommand("discharge_pct", "Discharge rate", "dischg_power_percent_cmd", 0, 100),
  intCommand("charge_amount_pct", "AC charge SOC limit", "ac_charge_soc_limit", 0, 100),
];

const BY_NAME = new Map(COMMANDS.map((c) => [c.name, c]));

export function findCommand(name: string): CommandDef | undefined {
  return BY_NAME.get(name);
}

/** The boolean command that sets `bit` of `register`, if any. */
export function commandForBit(register: number, bit: number): CommandDef | undefined {
  return COMMANDS.find((c) => c.register === register && c.value.kind === "bool" && c.value.bit === bit);
}

export const NAMED_COMMANDS: readonly string[] = COMMANDS.map((c) => c.name);

/** Every command name planCommand accepts ("set_hold/<reg>" stands for set_hold/0 … set_hold/65535). */
export const ALL_COMMANDS: readonly string[] = [
  ...NAMED_COMMANDS,
  "read_input",
  "read_hold",
  "set_hold/<reg>",
  "set_clock",
  "ac_charge_slot/<1-3>",
  "ac_first_slot/<1-3>",
  "charge_priority_slot/<1-3>",
  "forced_discharge_slot/<1-3>",
];

/** The words a boolean may be written as: true words, false words (any case). */
export const TRUE_WORDS: readonly string[] = ["1", "t", "true", "y", "yes", "on"];
export const FALSE_WORDS: readonly string[] = ["0", "f", "false", "n", "no", "off"];

/** Leading/trailing ASCII whitespace only (not U+00A0, U+3000 …, which String.prototype.trim also removes). */
export function trimAscii(text: string): string {
  return text.replace(/^[ \t\n\r\f\v]+|[ \t\n\r\f\v]+$/g, "");
}

/** Strict: one of TRUE_WORDS/FALSE_WORDS (any case, ASCII whitespace around), else undefined. */
export function parseBooleanStrict(text: string): boolean | undefined {
  const t = trimAscii(text).toLowerCase();
  if (TRUE_WORDS.includes(t)) return true;
  if (FALSE_WORDS.includes(t)) return false;
  return undefined;
}

/** The seed's rule for MQTT payloads: a true word → true; anything else false. */
export function parseBoolean(payload: string): boolean {
  return parseBooleanStrict(payload) === true;
}

/** A plain decimal integer within [min, max] (ASCII digits, optional surrounding ASCII whitespace), or undefined. */
export function parseUint(text: string, min: number, max: number): number | undefined {
  const t = trimAscii(text);
  if (!/^[0-9]{1,10}$/.test(t)) return undefined;
  const n = Number(t);
  return n >= min && n <= max ? n : undefined;
}

const show = (s: string) => JSON.stringify(s);

export function planCommand(name: string, payload: string): PlanResult {
  const command = findCommand(name);
  if (command?.value.kind === "bool") {
    const strict = parseBooleanStrict(payload);
    const plan: CommandPlan = {
      kind: "setBit",
      register: command.register,
      bit: command.value.bit,
      on: strict === true,
    };
    if (strict !== undefined) return { ok: true, plan };
    const words = [...TRUE_WORDS, ...FALSE_WORDS].join(" ");
    return { ok: true, plan, warning: `${name}: payload ${show(payload)} is none of ${words}; taken as off` };
  }
  if (command?.value.kind === "int") {
    const { min, max } = command.value;
    const v = parseUint(payload, min, max);
    if (v === undefined) {
      return { ok: false, error: `${name}: payload ${show(payload)} is not an integer ${min}–${max}` };
    }
    return { ok: true, plan: { kind: "write", register: command.register, value: v } };
  }
  if (name === "read_input") {
    const b = parseUint(payload, 1, 4);
    if (b === undefined) {
      return { ok: false, error: `read_input: payload ${show(payload)} is not a block number 1–4` };
    }
    return { ok: true, plan: { kind: "readInput", block: b as InputBlock } };
  }
  if (name === "read_hold") {
    const parts = payload.split(",");
    if (parts.length > 2) {
      return {
        ok: false,
        error: `read_hold: payload ${show(payload)} is not "<register>" or "<register>,<count>"`,
      };
    }
    const register = parseUint(parts[0], 0, 0xffff);
    if (register === undefined) {
      return {
        ok: false,
        error: `read_hold: register ${show(parts[0])} in payload ${show(payload)} is not an integer 0–65535`,
      };
    }
    let count = 1;
    if (parts.length === 2) {
      const c = parseUint(parts[1], 1, 127);
      if (c === undefined) {
        return {
          ok: false,
          error: `read_hold: count ${show(parts[1])} in payload ${show(payload)} is not an integer 1–127`,
        };
      }
      count = c;
    }
    if (register + count > 0x10000) {
      return { ok: false, error: `read_hold: payload ${show(payload)} reads past register 65535` };
    }
    return { ok: true, plan: { kind: "readHold", register, count } };
  }
  if (name.startsWith("set_hold/")) {
    const regText = name.slice("set_hold/".length);
    const register = /^[0-9]+$/.test(regText) ? parseUint(regText, 0, 0xffff) : undefined;
    if (register === undefined) {
      return { ok: false, error: `set_hold: register ${show(regText)} is not an integer 0–65535` };
    }
    const value = parseUint(payload, 0, 0xffff);
    if (value === undefined) {
      return { ok: false, error: `set_hold/${register}: payload ${show(payload)} is not an integer 0–65535` };
    }
    return { ok: true, plan: { kind: "write", register, value } };
  }
  if (name === "set_clock") {
    if (trimAscii(payload).toLowerCase() === "now") return { ok: true, plan: { kind: "setClock" } };
    const fields = parseClock(trimAscii(payload));
    if (typeof fields === "string") return { ok: false, error: `set_clock: ${fields} (or "now")` };
    return { ok: true, plan: { kind: "setClock", fields } };
  }
  const slot = slotCommandParts(name);
  if (slot) {
    const n = parseSlotNumber(slot.nText);
    if (n === undefined) {
      return { ok: false, error: `${slot.kind.name}_slot: slot ${show(slot.nText)} is not 1, 2 or 3` };
    }
    const parsed = parseSlot(payload);
    if (typeof parsed === "string") return { ok: false, error: `${name}: ${parsed}` };
    const regs = slotRegisters(slot.kind, n);
    return {
      ok: true,
      plan: {
        kind: "writeSlot",
        slot: slot.kind.name,
        n,
        start: regs.start,
        end: regs.end,
        startValue: encodeSlotTime(parsed.start),
        endValue: encodeSlotTime(parsed.end),
      },
    };
  }
  return { ok: false, error: `unknown command ${show(name)}` };
}
