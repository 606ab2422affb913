// PURE: input-register blocks → the octolux inputs/1..4 JSON objects.
//
// Each block always has the same keys in the same order: first exactly the keys of the octolux MQ.md
// example (customer contract), then further keys. Values come from the register table (registers.ts),
// except the derived sums/differences. Sums are computed on raw integers and divided once, so the
// printed numbers carry no float noise (e.g. 2.2, never 2.2000000000000002).
//
// Registers 81/82 (max charge/discharge current) are ÷100 on every path (separate block 3 and the
// 0–126 frame), so both paths give identical objects.

import { findByKey, type RegisterDef, scaledValue } from "./registers.ts";

export type InputBlock = 1 | 2 | 3 | 4;

/** First register of each block; every block is 40 registers. */
export const BLOCK_START: Readonly<Record<InputBlock, number>> = { 1: 0, 2: 40, 3: 80, 4: 120 };
export const BLOCK_SIZE = 40;

/** (0,40)→1 (40,40)→2 (80,40)→3 (120,40)→4 (0,127)→"all"; anything else undefined. */
export function blockForStart(start: number, count: number): InputBlock | "all" | undefined {
  if (start === 0 && count === 127) return "all";
  if (count !== BLOCK_SIZE) return undefined;
  switch (start) {
    case 0:
      return 1;
    case 40:
      return 2;
    case 80:
      return 3;
    case 120:
      return 4;
    default:
      return undefined;
  }
}

type Regs = (reg: number) => number;
type Field = [key: string, get: (r: Regs) => number];

/** A field taken from the register table by (table) key. */
function reg(jsonKey: string, tableKey: string = jsonKey): Field {
  const d = findByKey("input", tableKey);
  if (!d) throw new Error(`inputs.ts: no input register "${tableKey}"`);
  return [jsonKey, makeGetter(d)];
}

function makeGetter(d: RegisterDef): (r: Regs) => number {
  const at = d.register;
  if (d.words === 2) return (r) => scaledValue(d, [r(at), r(at + 1)]);
  return (r) => scaledValue(d, [r(at)]);
}

const u32 = (r: Regs, at: number) => (r(at) & 0xffff) + (r(at + 1) & 0xffff) * 65536;

const BLOCK_FIELDS: Record<InputBlock, Field[]> = {
  1: [
    // octolux MQ.md keys, in order
    reg("status"),
    reg("v_bat"),
    reg("soc"),
    ["p_pv", (r) => r(7) + r(8) + r(9)],
    reg("p_charge"),
    reg("p_discharge"),
    reg("v_acr", "v_ac_r"),
    reg("f_ac"),
    reg("p_inv"),
    reg("p_rec"),
    reg("v_eps", "v_eps_r"),
    reg("f_eps"),
    reg("p_to_grid"),
    reg("p_to_user"),
    ["e_pv_day", (r) => (r(28) + r(29) + r(30)) / 10],
    reg("e_inv_day"),
    reg("e_rec_day"),
    reg("e_chg_day"),
    reg("e_dischg_day"),
    reg("e_eps_day"),
    reg("e_to_grid_day"),
    reg("e_to_user_day"),
    reg("v_bus_1"),
    reg("v_bus_2"),
    // further keys
    reg("v_pv_1"),
    reg("v_pv_2"),
    reg("v_pv_3"),
    reg("soh"),
    reg("internal_fault"),
    reg("p_pv_1"),
    reg("p_pv_2"),
    reg("p_pv_3"),
    reg("v_ac_s"),
    reg("v_ac_t"),
    reg("i_inv_rms"),
    reg("pf"),
    reg("v_eps_s"),
    reg("v_eps_t"),
    reg("p_eps"),
    reg("s_eps"),
    reg("e_pv_day_1"),
    reg("e_pv_day_2"),
    reg("e_pv_day_3"),
    ["p_battery", (r) => r(10) - r(11)], // + charging
    ["p_grid", (r) => r(27) - r(26)], // + importing
  ],
  2: [
    ["e_pv_all", (r) => (u32(r, 40) + u32(r, 42) + u32(r, 44)) / 10],
    reg("e_inv_all"),
    reg("e_rec_all"),
    reg("e_chg_all"),
    reg("e_dischg_all"),
    reg("e_eps_all"),
    reg("e_to_grid_all"),
    reg("e_to_user_all"),
    reg("t_inner"),
    reg("t_rad_1"),
    reg("t_rad_2"),
    // further keys
    reg("e_pv_all_1"),
    reg("e_pv_all_2"),
    reg("e_pv_all_3"),
    reg("fault_code"),
    reg("warning_code"),
    reg("t_bat"),
    reg("runtime"),
  ],
  3: [
    reg("max_chg_curr"),
    reg("max_dischg_curr"),
    reg("charge_volt_ref"),
    reg("dischg_cut_volt"),
    ...Array.from({ length: 10 }, (_, n) => reg(`bat_status_${n}`)),
    reg("bat_status_inv"),
    // further keys
    reg("bat_count"),
    reg("bat_capacity"),
    reg("bat_current"),
    reg("bms_event_1"),
    reg("bms_event_2"),
    reg("max_cell_voltage"),
    reg("min_cell_voltage"),
    reg("max_cell_temp"),
    reg("min_cell_temp"),
    reg("bms_fw_update_state"),
    reg("cycle_count"),
    reg("vbat_inv"),
  ],
  4: [
    reg("v_gen"),
    reg("f_gen"),
    reg("p_gen"),
    reg("e_gen_day"),
    reg("e_gen_all"),
    reg("v_eps_l1"),
    reg("v_eps_l2"),
    reg("p_eps_l1"),
    reg("p_eps_l2"),
    reg("s_eps_l1"),
    reg("s_eps_l2"),
    reg("e_eps_l1_day"),
    reg("e_eps_l2_day"),
    reg("e_eps_l1_all"),
    reg("e_eps_l2_all"),
    // further keys
    reg("v_bus_p"),
  ],
};

/** The JSON keys of a block, in order. */
export function blockKeys(block: InputBlock): string[] {
  return BLOCK_FIELDS[block].map(([k]) => k);
}

/** Keys whose values are fractional quantities (scale ≠ 1); stringifyInputs prints them with a ".0". */
const FLOAT_KEYS = new Set<string>(["e_pv_day", "e_pv_all"]);
for (const b of [1, 2, 3, 4] as InputBlock[]) {
  for (const [k] of BLOCK_FIELDS[b]) {
    const name = k === "v_acr" ? "v_ac_r" : k === "v_eps" ? "v_eps_r" : k;
    const d = findByKey("input", name);
    if (d && d.scale !== 1) FLOAT_KEYS.add(k);
  }
}

/** The octolux JSON object of one block. `regs(n)` returns the raw u16 of input register n. */
export function inputsJson(block: InputBlock, regs: (reg: number) => number): Record<string, number> {
  const out: Record<string, number> = {};
  const fields = BLOCK_FIELDS[block];
  for (let n = 0; n < fields.length; n++) out[fields[n][0]] = fields[n][1](regs);
  return out;
}

/**
 * Every complete 40-register block a read-input reply covers, as JSON. The 0–126 protocol-5 frame yields
 * blocks 1, 2 and 3 (identical to the three separate blocks; 120–126 are not a full block 4).
 * A reply that covers no complete block yields [].
 */
export function decodeInputReply(start: number, values: number[]): { block: InputBlock; json: Record<string, number> }[] {
  const out: { block: InputBlock; json: Record<string, number> }[] = [];
  const end = start + values.length;
  const regs = (r: number) => values[r - start];
  for (const block of [1, 2, 3, 4] as InputBlock[]) {
    const s = BLOCK_START[block];
    if (s >= start && s + BLOCK_SIZE <= end) out.push({ block, json: inputsJson(block, regs) });
  }
  return out;
}

/**
 * JSON text in the octolux style: like JSON.stringify, but fractional quantities that happen to be whole
 * print with ".0" ("e_eps_day":0.0, "max_chg_curr":105.0), as the Ruby reference did.
 */
export function stringifyInputs(json: Record<string, number>): string {
  let s = "{";
  let first = true;
  for (const k in json) {
    const v = json[k];
    let t = JSON.stringify(v) ?? "null";
    if (FLOAT_KEYS.has(k) && Number.isInteger(v)) t += ".0";
    s += (first ? "" : ",") + JSON.stringify(k) + ":" + t;
    first = false;
  }
  return s + "}";
}
