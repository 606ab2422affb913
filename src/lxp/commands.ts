// PURE: MQTT command name + payload → the register operation to perform.
//
// Names (octolux `cmd/<name>` topics): ac_charge, forced_discharge, charge_priority (booleans, bits of
// hold 21), charge_pct, discharge_pct, charge_amount_pct (integers 0–100 → hold 64, 65, 67),
// read_input (1–4), read_hold ("<reg>" or "<reg>,<count>"), set_hold/<reg> (value 0–65535).
// Integers are plain decimal digits, surrounding ASCII whitespace ignored: "50" and " 50 " are accepted;
// padding with other spaces (U+00A0, U+3000 …) is not;
// "", "abc", "-1", "+5", "50.5", "1e2", "0x10", "150" (for a percentage) are rejected.

import type { InputBlock } from "./inputs.ts";

export type CommandPlan =
  | { kind: "setBit"; register: 21; bit: number; on: boolean }
  | { kind: "write"; register: number; value: number }
  | { kind: "readInput"; block: InputBlock }
  | { kind: "readHold"; register: number; count: number };

export type PlanResult = { ok: true; plan: CommandPlan } | { ok: false; error: string };

export const NAMED_COMMANDS: readonly string[] = [
  "ac_charge",
  "forced_discharge",
  "charge_priority",
  "charge_pct",
  "discharge_pct",
  "charge_amount_pct",
];

/** Every command name planCommand accepts ("set_hold/<reg>" stands for set_hold/0 … set_hold/65535). */
export const ALL_COMMANDS: readonly string[] = [
  ...NAMED_COMMANDS,
  "read_input",
  "read_hold",
  "set_hold/<reg>",
];

const BIT_COMMANDS: Record<string, number> = { ac_charge: 7, forced_discharge: 10, charge_priority: 11 };
const PCT_COMMANDS: Record<string, number> = { charge_pct: 64, discharge_pct: 65, charge_amount_pct: 67 };

/** 1 t true y yes on (case-insensitive, trimmed) → true; anything else false. */
export function parseBoolean(payload: string): boolean {
  switch (payload.trim().toLowerCase()) {
    case "1":
    case "t":
    case "true":
    case "y":
    case "yes":
    case "on":
      return true;
    default:
      return false;
  }
}

/** Leading/trailing ASCII whitespace (space, tab, CR, LF, FF, VT) only — not U+00A0, U+3000 or other spaces. */
const ASCII_SPACE = /^[ \t\n\r\f\v]+|[ \t\n\r\f\v]+$/g;

/** A plain decimal integer within [min, max] (ASCII digits, optional surrounding ASCII whitespace), or undefined. */
export function parseUint(text: string, min: number, max: number): number | undefined {
  const t = text.replace(ASCII_SPACE, "");
  if (!/^[0-9]{1,10}$/.test(t)) return undefined;
  const n = Number(t);
  return n >= min && n <= max ? n : undefined;
}

const show = (s: string) => JSON.stringify(s);

export function planCommand(name: string, payload: string): PlanResult {
  const bit = BIT_COMMANDS[name];
  if (bit !== undefined && Object.hasOwn(BIT_COMMANDS, name)) {
    return { ok: true, plan: { kind: "setBit", register: 21, bit, on: parseBoolean(payload) } };
  }
  const pctReg = PCT_COMMANDS[name];
  if (pctReg !== undefined && Object.hasOwn(PCT_COMMANDS, name)) {
    const v = parseUint(payload, 0, 100);
    if (v === undefined) {
      return { ok: false, error: `${name}: payload ${show(payload)} is not an integer 0–100` };
    }
    return { ok: true, plan: { kind: "write", register: pctReg, value: v } };
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
  return { ok: false, error: `unknown command ${show(name)}` };
}
