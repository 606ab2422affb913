// Command-line argument parsers: strict, and every message names the flag and the bad value
// (`--count must be an integer 1–127 (got "x")`). They throw CliError with exit code 2.

import { CliError, ExitCode } from "./errors.ts";

const bad = (what: string, expected: string, text: string) =>
  new CliError(ExitCode.usage, `${what} must be ${expected} (got "${text}")`);

/** A whole number min–max, decimal (or 0x hex when `hex`). */
export function parseInteger(what: string, text: string, min: number, max: number, hex = false): number {
  const t = text.trim();
  let n = NaN;
  if (/^\d+$/.test(t)) n = Number(t);
  else if (hex && /^0x[0-9a-f]+$/i.test(t)) n = parseInt(t.slice(2), 16);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw bad(what, `an integer ${min}–${max}${hex ? " (decimal or 0x hex)" : ""}`, text);
  }
  return n;
}

/** A register number or value 0–65535, decimal or 0x hex. */
export const parseU16 = (what: string, text: string) => parseInteger(what, text, 0, 0xffff, true);

/** A TCP port; `allowZero` for "any free port". */
export const parsePort = (what: string, text: string, allowZero = false) =>
  parseInteger(what, text, allowZero ? 0 : 1, 65535);

/** A number of seconds ≥ 0 (> 0 unless allowZero). */
export function parseSeconds(what: string, text: string, allowZero = false): number {
  const t = text.trim();
  const n = /^\d+(\.\d+)?$/.test(t) ? Number(t) : NaN;
  if (!Number.isFinite(n) || (!allowZero && n === 0)) {
    throw bad(what, allowZero ? "a number of seconds ≥ 0" : "a positive number of seconds", text);
  }
  return n;
}

/** A probability 0–1. */
export function parseProbability(what: string, text: string): number {
  const t = text.trim();
  const n = /^(\d+(\.\d*)?|\.\d+)$/.test(t) ? Number(t) : NaN;
  if (!(n >= 0 && n <= 1)) throw bad(what, "a probability 0–1", text);
  return n;
}

/** A dongle or inverter serial: exactly 10 characters. */
export function parseSerial(what: string, text: string): string {
  if (text.length !== 10) throw bad(what, "exactly 10 characters", text);
  return text;
}

/** One of `choices`. */
export function parseChoice<T extends string>(what: string, text: string, choices: readonly T[]): T {
  const t = text.trim().toLowerCase();
  const hit = choices.find((c) => c === t);
  if (hit === undefined) throw bad(what, `one of ${choices.join(", ")}`, text);
  return hit;
}
