// PURE: what the write prompts accept. A holding register takes a value in the unit the table shows it in
// (scaled, HH:MM for time slots, 0x… for bit fields), range-checked from the register table and the
// command table; D-Bus paths take a JSON value.

import { type CommandDef, COMMANDS, parseUint, trimAscii } from "../lxp/commands.ts";
import { findRegister, formatValue, type RegisterDef, scaledValue, slotRaw } from "../lxp/registers.ts";

export type Parsed = { ok: true; raw: number; text: string } | { ok: false; error: string };

/** The command of the command table that writes the whole register, if any. */
function intCommandFor(register: number): CommandDef | undefined {
  return COMMANDS.find((c) => c.register === register && c.value.kind === "int");
}

/** The label a register is confirmed with: the command's label when a command writes it, else its name. */
export function registerLabel(register: number): string {
  return intCommandFor(register)?.label ?? findRegister("hold", register)?.name ?? `hold ${register}`;
}

/** The accepted input, for the prompt: "0–100 %", "HH:MM", "0x0000–0xFFFF", "0.0–6553.5 V". */
export function registerRange(def: RegisterDef): string {
  const cmd = intCommandFor(def.register);
  if (cmd && cmd.value.kind === "int") {
    return `${cmd.value.min}–${cmd.value.max}${def.unit ? " " + def.unit : ""}`;
  }
  if (def.kind === "time") return "HH:MM";
  if (def.kind === "bits" || def.kind === "hex" || def.kind === "clock" || def.kind === "ascii") {
    return "0–65535 or 0x0000–0xFFFF";
  }
  if (def.unit === "%") return "0–100 %";
  const { min, max } = scaledBounds(def);
  const d = decimals(def.scale);
  return `${min.toFixed(d)}–${max.toFixed(d)}${def.unit ? " " + def.unit : ""}`;
}

function decimals(scale: number): number {
  return scale <= 1 ? 0 : Math.round(Math.log10(scale));
}

function scaledBounds(def: RegisterDef): { min: number; max: number } {
  return def.signed
    ? { min: -32768 / def.scale, max: 32767 / def.scale }
    : { min: 0, max: 65535 / def.scale };
}

/** Text typed at the prompt → the raw register value, or an error naming the bad input. */
export function parseRegisterInput(register: number, input: string): Parsed {
  const def = findRegister("hold", register);
  if (!def) return { ok: false, error: `no holding register ${register}` };
  const text = trimAscii(input);
  const got = `(got ${JSON.stringify(input)})`;
  const done = (raw: number): Parsed => ({ ok: true, raw, text: formatValue(def, scaledValue(def, [raw])) });
  const cmd = intCommandFor(register);
  if (cmd && cmd.value.kind === "int") {
    const v = parseUint(text, cmd.value.min, cmd.value.max);
    if (v === undefined) {
      return { ok: false, error: `${cmd.label} takes an integer ${registerRange(def)} ${got}` };
    }
    return done(v);
  }
  if (def.kind === "time") {
    const m = /^([0-9]{1,2}):([0-9]{2})$/.exec(text);
    if (!m || Number(m[1]) > 23 || Number(m[2]) > 59) {
      return { ok: false, error: `${def.name} takes HH:MM ${got}` };
    }
    return done(slotRaw(Number(m[1]), Number(m[2])));
  }
  if (def.kind === "bits" || def.kind === "hex" || def.kind === "clock" || def.kind === "ascii") {
    const v = /^0x[0-9a-f]{1,4}$/i.test(text) ? parseInt(text.slice(2), 16) : parseUint(text, 0, 0xffff);
    if (v === undefined) return { ok: false, error: `${def.name} takes ${registerRange(def)} ${got}` };
    return done(v);
  }
  const d = decimals(def.scale);
  const re = d > 0 ? new RegExp(`^-?[0-9]{1,6}(\\.[0-9]{1,${d}})?$`) : /^-?[0-9]{1,6}$/;
  if (!re.test(text)) {
    return { ok: false, error: `${def.name} takes a number${d ? ` with up to ${d} decimals` : ""} ${got}` };
  }
  const value = Number(text);
  const { min, max } = def.unit === "%" ? { min: 0, max: 100 } : scaledBounds(def);
  if (value < min || value > max) {
    return { ok: false, error: `${value} is out of range ${registerRange(def)} for ${def.name} ${got}` };
  }
  const scaled = Math.round(value * def.scale);
  return done(scaled < 0 ? scaled + 0x10000 : scaled);
}

/** "write 50 to 65 Discharge rate? y/n" */
export function writeQuestion(register: number, input: string): string {
  return `write ${trimAscii(input)} to ${register} ${registerLabel(register)}? y/n`;
}

/** Text typed at a D-Bus prompt → a JSON value, or an error naming the bad input. */
export function parseJsonInput(input: string): { ok: true; json: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, json: JSON.parse(input) };
  } catch {
    return { ok: false, error: `not a JSON value (got ${JSON.stringify(input)}); strings need "quotes"` };
  }
}
