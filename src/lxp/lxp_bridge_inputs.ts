// PURE: the inputs JSON of lxp-bridge's topic layout (spec §5.2): `<ns>/<datalog>/inputs/1..4` with
// lxp-bridge's keys (spec §3.2/§3.3 "lxp-bridge key" column, derived values §3.4) plus `time` (unix seconds)
// and `datalog`, and `inputs/all` (every key of blocks 1–3) when a 0–126 frame arrives or when block 3
// arrives with blocks 1 and 2 seen (lxp-bridge 0.13.0). Values come from the one register table.

import { BLOCK_SIZE, decodeInputReply, type InputBlock } from "./inputs.ts";
import { findByKey, scaledValue } from "./registers.ts";

const seq = (prefix: string, from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => `${prefix}${from + i}`);

/** lxp-bridge's keys per block, in its order. Derived keys (p_pv, p_battery, p_grid, e_pv_day, e_pv_all) too. */
export const LXP_BRIDGE_KEYS: Readonly<Record<InputBlock, readonly string[]>> = {
  1: [
    "status",
    "v_pv_1",
    "v_pv_2",
    "v_pv_3",
    "v_bat",
    "soc",
    "soh",
    "internal_fault",
    "p_pv",
    "p_pv_1",
    "p_pv_2",
    "p_pv_3",
    "p_charge",
    "p_discharge",
    "p_battery",
    "v_ac_r",
    "v_ac_s",
    "v_ac_t",
    "f_ac",
    "p_inv",
    "p_rec",
    "pf",
    "v_eps_r",
    "v_eps_s",
    "v_eps_t",
    "f_eps",
    "p_eps",
    "s_eps",
    "p_to_grid",
    "p_to_user",
    "p_grid",
    "e_pv_day",
    ...seq("e_pv_day_", 1, 3),
    "e_inv_day",
    "e_rec_day",
    "e_chg_day",
    "e_dischg_day",
    "e_eps_day",
    "e_to_grid_day",
    "e_to_user_day",
    "v_bus_1",
    "v_bus_2",
  ],
  2: [
    "e_pv_all",
    ...seq("e_pv_all_", 1, 3),
    "e_inv_all",
    "e_rec_all",
    "e_chg_all",
    "e_dischg_all",
    "e_eps_all",
    "e_to_grid_all",
    "e_to_user_all",
    "fault_code",
    "warning_code",
    "t_inner",
    "t_rad_1",
    "t_rad_2",
    "t_bat",
    "runtime",
  ],
  3: [
    "max_chg_curr",
    "max_dischg_curr",
    "charge_volt_ref",
    "dischg_cut_volt",
    ...seq("bat_status_", 0, 9),
    "bat_status_inv",
    "bat_count",
    "bat_capacity",
    "bat_current",
    "bms_event_1",
    "bms_event_2",
    "max_cell_voltage",
    "min_cell_voltage",
    "max_cell_temp",
    "min_cell_temp",
    "bms_fw_update_state",
    "cycle_count",
    "vbat_inv",
  ],
  4: [
    "v_gen",
    "f_gen",
    "p_gen",
    "e_gen_day",
    "e_gen_all",
    "v_eps_l1",
    "v_eps_l2",
    "p_eps_l1",
    "p_eps_l2",
    "s_eps_l1",
    "s_eps_l2",
    "e_eps_l1_day",
    "e_eps_l2_day",
    "e_eps_l1_all",
    "e_eps_l2_all",
  ],
};

/** Keys whose value is derived (§3.4); the octolux block JSON computes them under the same names. */
const DERIVED = new Set(["p_pv", "p_battery", "p_grid", "e_pv_day", "e_pv_all"]);

/** One block's lxp-bridge JSON from the registers of a reply starting at `start` (which must cover it). */
function lxpBridgeBlock(
  block: InputBlock,
  start: number,
  values: readonly number[],
  octolux: Record<string, number>,
  extra: { time: number; datalog: string },
): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  for (const key of LXP_BRIDGE_KEYS[block]) {
    if (DERIVED.has(key)) {
      out[key] = octolux[key];
      continue;
    }
    const def = findByKey("input", key);
    if (!def) throw new Error(`lxp_bridge_inputs.ts: no input register "${key}"`);
    const at = def.register - start;
    out[key] = scaledValue(def, [values[at] ?? 0, values[at + 1] ?? 0]);
  }
  out.time = extra.time;
  out.datalog = extra.datalog;
  return out;
}

/** Remembers blocks 1–3 for inputs/all; feed() turns one input reply into the messages lxp-bridge sends. */
export class LxpBridgeInputs {
  private seen: Partial<Record<InputBlock, Record<string, number | string>>> = {};

  constructor(private readonly datalog: string) {}

  /** `time` in unix seconds. Returns [topic-relative name ("inputs/1" … "inputs/all"), JSON] pairs. */
  feed(start: number, values: readonly number[], time: number): [string, string][] {
    const out: [string, string][] = [];
    const blocks = decodeInputReply(start, values as number[]);
    for (const { block, json } of blocks) {
      const obj = lxpBridgeBlock(block, start, values, json, { time, datalog: this.datalog });
      this.seen[block] = obj;
      out.push([`inputs/${block}`, JSON.stringify(obj)]);
    }
    const whole = start === 0 && values.length >= 3 * BLOCK_SIZE;
    const thirdArrived = blocks.some((b) => b.block === 3) && this.seen[1] && this.seen[2];
    if (whole || thirdArrived) {
      const all = { ...this.seen[1], ...this.seen[2], ...this.seen[3], time, datalog: this.datalog };
      out.push(["inputs/all", JSON.stringify(all)]);
    }
    return out;
  }
}
