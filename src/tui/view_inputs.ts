// PURE: the inputs pane — status text, the power flow, and inputs 1–4 in columns with label, value and
// unit from the register table; values changed in the last update highlighted.

import { type InputBlock, inputKeyDef } from "../lxp/inputs.ts";
import { statusText } from "../lxp/registers.ts";
import { staleness } from "./state.ts";
import { age, fit, type Line, padEnd, padStart, seg, type ViewInput } from "./view_text.ts";

const INPUT_LABELS: Record<string, string> = {
  p_pv: "PV power",
  e_pv_day: "PV energy today",
  e_pv_all: "PV energy total",
  p_battery: "Battery power (+charge)",
  p_grid: "Grid power (+import)",
};

function inputLabel(key: string): string {
  return INPUT_LABELS[key] ?? inputKeyDef(key)?.name ?? key;
}

const signed = (n: number) => (n > 0 ? "+" : n < 0 ? "−" : "") + Math.abs(n);

/** "PV 1200 W → battery +800 W charging · grid −300 W export · load 700 W" from inputs/1. */
export function powerFlow(i1: Record<string, number>): string {
  const pv = i1.p_pv ?? 0;
  const bat = i1.p_battery ?? (i1.p_charge ?? 0) - (i1.p_discharge ?? 0);
  const grid = i1.p_grid ?? (i1.p_to_user ?? 0) - (i1.p_to_grid ?? 0);
  const load = pv - bat + grid;
  const batText = bat > 0 ? "charging" : bat < 0 ? "discharging" : "idle";
  const gridText = grid > 0 ? "import" : grid < 0 ? "export" : "idle";
  return `PV ${pv} W → battery ${signed(bat)} W ${batText} · grid ${
    signed(grid)
  } W ${gridText} · load ${load} W`;
}

export function inputsPane(v: ViewInput, body: number): Line[] {
  const { state } = v;
  const st = staleness(state);
  const blocks = ([1, 2, 3, 4] as InputBlock[]).filter((b) => state.inputs[b]);
  if (!blocks.length) return [[seg("no inputs yet — press i to request them", { dim: true })]];
  const out: Line[] = [];
  const i1 = state.inputs[1];
  const staleTag = st.lxp ? seg(" (stale)", { color: "red" }) : seg("");
  if (i1) {
    out.push([seg("Status ", { bold: true }), seg(`${statusText(i1.status)} (${i1.status})`), staleTag]);
    out.push([seg("Power  ", { bold: true }), seg(powerFlow(i1), { dim: st.lxp })]);
  }
  const height = Math.max(1, body - out.length);
  const ncols = Math.max(1, Math.floor(v.columns / 40));
  const colWidth = Math.floor(v.columns / ncols);
  const items: Line[] = [];
  for (const b of blocks) {
    items.push([seg(`inputs/${b} · ${age(state.inputsAt[b], v.now)}`, { bold: true, color: "cyan" })]);
    const changed = state.inputsChanged[b];
    for (const [k, value] of Object.entries(state.inputs[b]!)) {
      const unit = inputKeyDef(k)?.unit ?? "";
      const hot = changed?.has(k) ?? false;
      const lw = colWidth - 17;
      items.push([
        seg(padEnd(inputLabel(k), lw) + " "),
        seg(padStart(String(value), 9), {
          color: st.lxp ? "gray" : hot ? "yellow" : "green",
          bold: hot,
          dim: st.lxp,
        }),
        seg(" " + padEnd(unit, 4)),
      ]);
    }
  }
  const start = Math.min(v.ui.scroll.inputs, Math.max(0, items.length - height * ncols));
  for (let r = 0; r < height; r++) {
    const line: Line = [];
    for (let c = 0; c < ncols; c++) {
      const item = items[start + c * height + r];
      line.push(...fit(item ?? [], c === ncols - 1 ? v.columns - colWidth * c : colWidth));
    }
    out.push(line);
  }
  return out;
}
