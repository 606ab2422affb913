// PURE: the inverter's clock in holding registers 12–14 (spec §4, §2.3, §2.9): 12 = year−2000 (low byte) /
// month (high byte), 13 = day / hour, 14 = minute / second; set with one write-multi of the three registers
// (6 bytes [yy, mm, dd, hh, mi, ss]). The inverter has no time zone: it keeps the host's local wall time,
// so conversions go through the host's local calendar (DST included) and drift is a wall-clock difference.

import { FN_WRITE_MULTI, type TranslatedData } from "./frame.ts";

export const CLOCK_REGISTER = 12;
export const CLOCK_COUNT = 3;

/** A wall-clock time (no zone): what the inverter shows. */
export interface ClockFields {
  year: number;
  month: number; // 1–12
  day: number; // 1–31
  hour: number;
  minute: number;
  second: number;
}

/** Registers 12–14 → wall-clock fields, or a message naming the bad value. */
export function decodeClock(regs: readonly number[]): ClockFields | string {
  if (regs.length < CLOCK_COUNT) return `need registers 12–14 (got ${regs.length} values)`;
  const [a, b, c] = regs;
  const f = {
    year: 2000 + (a & 0xff),
    month: a >>> 8,
    day: b & 0xff,
    hour: b >>> 8,
    minute: c & 0xff,
    second: c >>> 8,
  };
  const problem = checkFields(f);
  return problem ? `inverter clock registers [${regs.slice(0, 3).join(", ")}]: ${problem}` : f;
}

/** Wall-clock fields → the three register values (write-multi payload). */
export function encodeClock(f: ClockFields): number[] {
  const problem = checkFields(f);
  if (problem) throw new RangeError(problem);
  return [(f.year - 2000) | (f.month << 8), f.day | (f.hour << 8), f.minute | (f.second << 8)];
}

function checkFields(f: ClockFields): string | undefined {
  const days = new Date(Date.UTC(f.year, f.month, 0)).getUTCDate();
  if (!(f.year >= 2000 && f.year <= 2255)) return `year ${f.year} is not 2000–2255`;
  if (!(f.month >= 1 && f.month <= 12)) return `month ${f.month} is not 1–12`;
  if (!(f.day >= 1 && f.day <= days)) return `day ${f.day} is not 1–${days}`;
  if (!(f.hour >= 0 && f.hour <= 23)) return `hour ${f.hour} is not 0–23`;
  if (!(f.minute >= 0 && f.minute <= 59)) return `minute ${f.minute} is not 0–59`;
  if (!(f.second >= 0 && f.second <= 59)) return `second ${f.second} is not 0–59`;
  return undefined;
}

/** The host's local wall time of an instant (the host's time zone and DST rules). */
export function localFields(d: Date): ClockFields {
  return {
    year: d.getFullYear(),
    month: d.getMonth() + 1,
    day: d.getDate(),
    hour: d.getHours(),
    minute: d.getMinutes(),
    second: d.getSeconds(),
  };
}

/** Wall-clock fields as a number of seconds on a zone-less scale (for differences). */
function wallSeconds(f: ClockFields): number {
  return Date.UTC(f.year, f.month - 1, f.day, f.hour, f.minute, f.second) / 1000;
}

/** Inverter wall clock minus the host's local wall clock, in seconds (positive: the inverter is ahead). */
export function driftSeconds(inverter: ClockFields, hostNow: Date): number {
  return wallSeconds(inverter) - Math.floor(wallSeconds(localFields(hostNow)));
}

const p2 = (n: number) => String(n).padStart(2, "0");

/** "YYYY-MM-DD HH:MM:SS" */
export function formatClock(f: ClockFields): string {
  return `${f.year}-${p2(f.month)}-${p2(f.day)} ${p2(f.hour)}:${p2(f.minute)}:${p2(f.second)}`;
}

/** "YYYY-MM-DD HH:MM[:SS]" (or with a T) → fields, or a message naming the bad value. */
export function parseClock(text: string): ClockFields | string {
  const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?$/.exec(text.trim());
  if (!m) return `"${text}" is not YYYY-MM-DD HH:MM:SS`;
  const f = {
    year: Number(m[1]),
    month: Number(m[2]),
    day: Number(m[3]),
    hour: Number(m[4]),
    minute: Number(m[5]),
    second: Number(m[6] ?? 0),
  };
  const problem = checkFields(f);
  return problem ? `${problem} in "${text}"` : f;
}

/** The write-multi request that sets the clock (protocol 2, as lxp-bridge sends it; spec §2.9). */
export function clockWriteRequest(
  o: { datalog: string; serial: string; fields: ClockFields },
): TranslatedData {
  return {
    kind: "translated",
    protocol: 2,
    datalog: o.datalog,
    address: 0,
    fn: FN_WRITE_MULTI,
    serial: o.serial,
    register: CLOCK_REGISTER,
    values: encodeClock(o.fields),
  };
}
