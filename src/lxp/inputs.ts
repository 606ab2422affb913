// PURE: input-register blocks → the octolux inputs/1..4 JSON objects.
//
// Each block always has the same keys in the same order: first exactly the keys of the octolux MQ.md
// example (customer contract), then further keys. Values come from the register table (registers.ts),
// except the derived sums/differences. Sums are computed on raw integers and divided once, so the
// printed numbers carry no float noise (e.g. 2.2, never 2.2000000000000002).
//
// Registers 81/82 (max charge/discharge current) are ÷100 on every path (separate block 3 and the
// 0–126 frame), so both paths give identical objects.

import {
  type DerivedInputDef,
  findByKey,
  findDerivedInput,
  findRegister,
  type RegisterDef,
  scaledValue,
} from "./registers.ts";

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

// A field is compiled to a small op record so that building a block is one tight loop over the block's
// 40 registers (no closures, no temporary arrays).
const OP_REG = 0, OP_SUM16 = 1, OP_SUM32 = 2, OP_DIFF16 = 3;
interface Field {
  key: string;
  op: number;
  regs: number[]; // absolute register numbers (OP_REG: first register)
  def?: RegisterDef; // OP_REG
  scale: number; // OP_SUM*: divisor
}

/** A field taken from the register table by its key; its JSON key is the table's octolux key, else its key. */
function reg(tableKey: string): Field {
  const d = findByKey("input", tableKey);
  if (!d) throw new Error(`inputs.ts: no input register "${tableKey}"`);
  return { key: d.octoluxKey ?? d.key, op: OP_REG, regs: [d.register], def: d, scale: d.scale };
}
const sum16 = (key: string, regs: number[], scale: number): Field => ({ key, op: OP_SUM16, regs, scale });
const sum32 = (key: string, regs: number[], scale: number): Field => ({ key, op: OP_SUM32, regs, scale });
/** regs[0] − regs[1] */
const diff16 = (key: string, regs: number[]): Field => ({ key, op: OP_DIFF16, regs, scale: 1 });

const BLOCK_FIELDS: Record<InputBlock, Field[]> = {
  1: [
    // octolux MQ.md keys, in order
    reg("status"),
    reg("v_bat"),
    reg("soc"),
    sum16("p_pv", [7, 8, 9], 1),
    reg("p_charge"),
    reg("p_discharge"),
    reg("v_ac_r"),
    reg("f_ac"),
    reg("p_inv"),
    reg("p_rec"),
    reg("v_eps_r"),
    reg("f_eps"),
    reg("p_to_grid"),
    reg("p_to_user"),
    sum16("e_pv_day", [28, 29, 30], 10),
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
    diff16("p_battery", [10, 11]), // p_charge − p_discharge: + charging
    diff16("p_grid", [27, 26]), // p_to_user − p_to_grid: + importing
  ],
  2: [
    sum32("e_pv_all", [40, 42, 44], 10),
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

// One builder per block, generated once from the field list: a single object literal with constant keys
// gets its final shape at once (fast to build and to JSON.stringify), unlike an object grown key by key.
type Builder = (
  v: ArrayLike<number>,
  base: number,
  fields: Field[],
  value: typeof fieldValue,
) => Record<string, number>;
const BUILDERS = {} as Record<InputBlock, Builder>;
for (const b of [1, 2, 3, 4] as InputBlock[]) {
  const body = BLOCK_FIELDS[b].map((f, n) => `${JSON.stringify(f.key)}: value(fields[${n}], v, base)`).join(
    ",\n",
  );
  BUILDERS[b] = new Function(
    "v",
    "base",
    "fields",
    "value",
    `"use strict"; return {\n${body}\n};`,
  ) as Builder;
}

function fieldValue(f: Field, v: ArrayLike<number>, base: number): number {
  const rs = f.regs;
  switch (f.op) {
    case OP_REG: {
      const d = f.def!;
      const i = rs[0] - base;
      const w0 = v[i] & 0xffff;
      if (d.words === 2) return scaledValue(d, [w0, v[i + 1] & 0xffff]);
      if (d.kind === undefined && d.byte === undefined && !d.signed) return d.scale === 1 ? w0 : w0 / d.scale;
      return scaledValue(d, [w0]);
    }
    case OP_SUM16: {
      let s = 0;
      for (let k = 0; k < rs.length; k++) s += v[rs[k] - base] & 0xffff;
      return f.scale === 1 ? s : s / f.scale;
    }
    case OP_SUM32: {
      let s = 0;
      for (let k = 0; k < rs.length; k++) {
        const i = rs[k] - base;
        s += (v[i] & 0xffff) + (v[i + 1] & 0xffff) * 65536;
      }
      return f.scale === 1 ? s : s / f.scale;
    }
    default: // OP_DIFF16
      return (v[rs[0] - base] & 0xffff) - (v[rs[1] - base] & 0xffff);
  }
}

/** Build a block from `v`, where v[i] is the raw value of input register base + i. */
function buildBlock(block: InputBlock, v: ArrayLike<number>, base: number): Record<string, number> {
  return BUILDERS[block](v, base, BLOCK_FIELDS[block], fieldValue);
}

/** The JSON keys of a block, in order. */
export function blockKeys(block: InputBlock): string[] {
  return BLOCK_FIELDS[block].map((f) => f.key);
}

/** Keys whose values are fractional quantities (scale ≠ 1); stringifyInputs prints them with a ".0". */
const FLOAT_KEYS = new Set<string>(["e_pv_day", "e_pv_all"]);
for (const b of [1, 2, 3, 4] as InputBlock[]) {
  for (const f of BLOCK_FIELDS[b]) if (f.scale !== 1) FLOAT_KEYS.add(f.key);
}

/** The octolux JSON object of one block. `regs(n)` returns the raw u16 of input register n. */
export function inputsJson(block: InputBlock, regs: (reg: number) => number): Record<string, number> {
  const base = BLOCK_START[block];
  const v = new Array<number>(BLOCK_SIZE);
  for (let n = 0; n < BLOCK_SIZE; n++) v[n] = regs(base + n);
  return buildBlock(block, v, base);
}

/**
 * Every complete 40-register block a read-input reply covers, as JSON. The 0–126 protocol-5 frame yields
 * blocks 1, 2 and 3 (identical to the three separate blocks; 120–126 are not a full block 4).
 * A reply that covers no complete block yields [].
 */
export function decodeInputReply(
  start: number,
  values: number[],
): { block: InputBlock; json: Record<string, number> }[] {
  const out: { block: InputBlock; json: Record<string, number> }[] = [];
  const end = start + values.length;
  for (let b = 1; b <= 4; b++) {
    const block = b as InputBlock;
    const s = BLOCK_START[block];
    if (s >= start && s + BLOCK_SIZE <= end) out.push({ block, json: buildBlock(block, values, start) });
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

const DEF_BY_KEY = new Map<string, RegisterDef | undefined>();
for (const fields of Object.values(BLOCK_FIELDS)) {
  for (const f of fields) DEF_BY_KEY.set(f.key, f.def ?? findRegister("input", f.regs[0]));
}

/**
 * The register-table entry behind a key of the inputs JSON (for sums and differences: the first register
 * summed), which gives its unit and Home Assistant classes; undefined for unknown keys.
 */
export function inputKeyDef(key: string): RegisterDef | undefined {
  return DEF_BY_KEY.get(key);
}

/** The unit of a key of the inputs JSON ("V", "W", "kWh", …; "" when it has none or is unknown). */
export function inputKeyUnit(key: string): string {
  return DEF_BY_KEY.get(key)?.unit ?? "";
}

/**
 * What describes a key of the inputs JSON (name, unit, Home Assistant classes, icon, diagnostic): the
 * derived-key entry for sums and differences, else the register-table entry; undefined for unknown keys.
 */
export function inputKeyInfo(key: string): DerivedInputDef | RegisterDef | undefined {
  return findDerivedInput(key) ?? DEF_BY_KEY.get(key);
}
