// PURE: the screen as lines of styled segments, exactly `columns` wide and `rows` high — header, tabs,
// the pane, a status/prompt line and a key line. Nothing wraps: every line is cut to the width. The React
// side (app.tsx) only turns the lines into <Text>.

import { inputKeyDef } from "../lxp/inputs.ts";
import type { InputBlock } from "../lxp/inputs.ts";
import {
  decodeBits,
  findRegister,
  formatValue,
  HOLD_BIT_FIELDS,
  scaledValue,
  statusText,
} from "../lxp/registers.ts";
import type { LogEntry } from "../log.ts";
import {
  type DashboardState,
  dbusText,
  type LinkInfo,
  productName,
  sortedPaths,
  staleness,
} from "./state.ts";
import { dbusRows, HELP, HOLD_ROWS, PANES, type UiState } from "./ui.ts";
import { registerLabel, registerRange } from "./edit.ts";

export type Colour = "red" | "green" | "yellow" | "cyan" | "gray" | "magenta";
export interface Seg {
  text: string;
  color?: Colour;
  bold?: boolean;
  dim?: boolean;
  inverse?: boolean;
}
export type Line = Seg[];

const seg = (text: string, style: Omit<Seg, "text"> = {}): Seg => ({ text, ...style });

/** Cuts a line to `width` characters and pads it with spaces to exactly `width`. */
export function fit(line: Line, width: number): Line {
  const out: Line = [];
  let used = 0;
  for (const s of line) {
    if (used >= width) break;
    const chars = [...s.text];
    const take = chars.slice(0, width - used);
    if (take.length) out.push({ ...s, text: take.join("") });
    used += take.length;
  }
  if (used < width) out.push({ text: " ".repeat(width - used) });
  return out;
}

const cut = (s: string, n: number) => {
  const c = [...s];
  return c.length > n ? c.slice(0, Math.max(0, n - 1)).join("") + "…" : s;
};
const padEnd = (s: string, n: number) => cut(s, n).padEnd(n);
const padStart = (s: string, n: number) => cut(s, n).padStart(n);

/** "now", "12 s ago", "3 min ago", "2 h ago" */
export function age(ms: number | undefined, now: number): string {
  if (ms === undefined) return "never";
  const s = Math.max(0, Math.floor((now - ms) / 1000));
  if (s < 1) return "now";
  if (s < 120) return `${s} s ago`;
  if (s < 7200) return `${Math.floor(s / 60)} min ago`;
  return `${Math.floor(s / 3600)} h ago`;
}

export interface ViewInput {
  state: DashboardState;
  ui: UiState;
  log: readonly LogEntry[];
  columns: number;
  rows: number;
  now: number;
}

/** Lines of the pane's list that fit (the runner passes it to handleKey for paging). */
/** Lines under the holdings table about the register under the cursor. */
const DETAIL_LINES = 6;

export function listRows(pane: UiState["pane"], rows: number): number {
  const body = Math.max(1, rows - 4);
  if (pane === "holdings") return Math.max(1, body - 1 - DETAIL_LINES);
  if (pane === "dbus") return Math.max(1, body - 1);
  return body;
}

export function render(v: ViewInput): Line[] {
  const { columns, rows } = v;
  const body = Math.max(1, rows - 4);
  const lines: Line[] = [header(v), tabs(v)];
  let pane: Line[];
  if (v.ui.mode.kind === "help") pane = helpLines(columns);
  else if (v.ui.pane === "inputs") pane = inputsPane(v, body);
  else if (v.ui.pane === "holdings") pane = holdingsPane(v, body);
  else if (v.ui.pane === "dbus") pane = dbusPane(v, body);
  else pane = logPane(v, body);
  for (let i = 0; i < body; i++) lines.push(pane[i] ?? []);
  lines.push(statusLine(v), keyLine(v));
  return lines.slice(0, rows).map((l) => fit(l, columns));
}

function linkSeg(label: string, info: LinkInfo, upText = "up", downText = "down"): Seg[] {
  if (info.state === "n/a") return [];
  const text = info.state === "up" ? upText : info.state === "down" ? downText : "?";
  const color: Colour = info.state === "up" ? "green" : info.state === "down" ? "red" : "yellow";
  return [seg(`${label} `), seg(text, { color, bold: info.state === "down" }), seg(" │ ")];
}

function header(v: ViewInput): Line {
  const { state, now } = v;
  const st = staleness(state);
  const line: Line = [];
  if (st.why) {
    const since = st.why === "broker lost" ? state.links.broker.since : state.links.inverter.since;
    line.push(
      seg(` STALE: ${st.why} ${age(since, now)} `, { color: "red", inverse: true, bold: true }),
      seg(" "),
    );
  }
  if (!st.why) line.push(seg("ess2mqtt", { bold: true, color: "cyan" }), seg(" │ "));
  line.push(...linkSeg("broker", state.links.broker));
  line.push(...linkSeg("inverter", state.links.inverter, "online", "offline"));
  const svc = state.services.size;
  line.push(...linkSeg("D-Bus", state.links.dbus, `up, ${svc} svc`));
  line.push(seg(`last msg ${age(state.lastMessageAt, now)}`));
  line.push(
    seg(` │ via ${state.via} ${state.where}${state.portal ? ` │ portal ${state.portal}` : ""}`, {
      dim: true,
    }),
  );
  return line;
}

function tabs(v: ViewInput): Line {
  const names: Record<string, string> = { inputs: "inputs", holdings: "holdings", dbus: "D-Bus", log: "log" };
  const line: Line = [];
  PANES.forEach((p, i) => {
    line.push(seg(` ${i + 1} ${names[p]} `, { inverse: p === v.ui.pane, bold: p === v.ui.pane }), seg(" "));
  });
  const ages = ([1, 2, 3, 4] as InputBlock[]).filter((b) => v.state.inputsAt[b] !== undefined)
    .map((b) => `in${b} ${age(v.state.inputsAt[b], v.now)}`);
  if (ages.length) line.push(seg(" " + ages.join(" · "), { dim: true }));
  return line;
}

// ---------------------------------------------------------------------------------------------------------
// inputs

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

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
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

function inputsPane(v: ViewInput, body: number): Line[] {
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

// ---------------------------------------------------------------------------------------------------------
// holdings

/** The decoded column: named on-bits for 21/110, HH:MM for slots, scaled value with unit otherwise. */
export function decodedHold(register: number, raw: number): string {
  const def = findRegister("hold", register);
  if (!def) return String(raw);
  const text = formatValue(def, scaledValue(def, [raw]));
  const bits = decodeBits(register, raw);
  if (!bits) return text;
  const on = Object.entries(bits).filter(([, b]) => b).map(([k]) => k);
  return `${text} ${on.join(" ") || "(no flags)"}`;
}

function holdingsPane(v: ViewInput, body: number): Line[] {
  const { state, ui, now, columns } = v;
  const st = staleness(state);
  const visible = listRows("holdings", v.rows);
  const decW = Math.max(18, Math.floor((columns - 24) * 0.45));
  const nameW = Math.max(8, columns - 4 - 1 - 6 - 1 - decW - 1 - 10 - 1);
  const out: Line[] = [[
    seg(
      `${"reg".padStart(4)} ${padEnd("name", nameW)} ${"raw".padStart(6)} ${padEnd("decoded", decW)} ${
        "changed".padStart(10)
      }`,
      {
        bold: true,
      },
    ),
  ]];
  const cursor = Math.min(ui.cursor.holdings, HOLD_ROWS.length - 1);
  const scroll = Math.min(Math.max(ui.scroll.holdings, cursor - visible + 1), cursor);
  for (let i = 0; i < visible; i++) {
    const reg = HOLD_ROWS[scroll + i];
    if (reg === undefined) {
      out.push([]);
      continue;
    }
    const h = state.holds.get(reg);
    const at = reg === HOLD_ROWS[cursor];
    const hot = h !== undefined && h.changed && now - h.changedAt < 5000;
    const name = findRegister("hold", reg)?.name ?? "";
    const rawText = h ? String(h.raw) : "—";
    const dec = h ? decodedHold(reg, h.raw) : "";
    const style: Omit<Seg, "text"> = at
      ? { inverse: true }
      : st.lxp || !h
      ? { dim: true }
      : hot
      ? { color: "yellow", bold: true }
      : {};
    out.push([
      seg(
        `${String(reg).padStart(4)} ${padEnd(name, nameW)} ${rawText.padStart(6)} ${padEnd(dec, decW)} ${
          padStart(h ? age(h.changedAt, now) : "", 10)
        }`,
        style,
      ),
    ]);
  }
  out.push(...holdDetail(v, HOLD_ROWS[cursor]));
  return out.slice(0, body);
}

/** Words joined by spaces into lines of at most `width` characters. */
function wrapWords(words: string[], width: number): string[] {
  const lines: string[] = [];
  let cur = "";
  for (const w of words) {
    if (cur && cur.length + 1 + w.length > width) {
      lines.push(cur);
      cur = "  " + w;
    } else cur = cur ? `${cur} ${w}` : w;
  }
  if (cur) lines.push(cur);
  return lines;
}

/** Lines about the register under the cursor: name and range, then its named bits on/off (21, 110). */
function holdDetail(v: ViewInput, register: number): Line[] {
  const def = findRegister("hold", register)!;
  const h = v.state.holds.get(register);
  const raw = h ? `raw ${h.raw} (0x${h.raw.toString(16).toUpperCase().padStart(4, "0")})` : "not read yet";
  const lines: Line[] = [[
    seg(`── ${register} ${def.key}`, { bold: true }),
    seg(` · ${registerLabel(register)} · ${raw} · Enter writes ${registerRange(def)} `),
    seg("─".repeat(v.columns), { dim: true }),
  ]];
  const bits = HOLD_BIT_FIELDS[register];
  if (bits && h) {
    const on = bits.filter((b) => (h.raw >>> b.bit) & 1).map((b) => `${b.bit}:${b.key}`);
    const off = bits.filter((b) => !((h.raw >>> b.bit) & 1)).map((b) => `${b.bit}:${b.key}`);
    for (const l of wrapWords(["on", ...on], v.columns)) lines.push([seg(l, { color: "green" })]);
    for (const l of wrapWords(["off", ...off], v.columns)) lines.push([seg(l, { dim: true })]);
  }
  while (lines.length < DETAIL_LINES) lines.push([]);
  return lines.slice(0, DETAIL_LINES).map((l) => l.map((s) => ({ ...s, text: cut(s.text, v.columns) })));
}

// ---------------------------------------------------------------------------------------------------------
// D-Bus

function dbusPane(v: ViewInput, body: number): Line[] {
  const { state, ui, columns } = v;
  const st = staleness(state);
  const rows = dbusRows(state, ui);
  const visible = listRows("dbus", v.rows);
  const head = ui.filter || ui.mode.kind === "filter"
    ? seg(`filter: ${ui.filter}  (${plural(rows.filter((r) => r.kind === "path").length, "path")})`, {
      color: "yellow",
    })
    : seg(`${state.services.size} services · Enter expands · / filters · R re-reads`, { dim: true });
  const out: Line[] = [[head, st.dbus ? seg("  (stale)", { color: "red" }) : seg("")]];
  if (!rows.length) {
    out.push([
      seg(
        state.via === "mqtt"
          ? "no D-Bus values yet (waiting for the bridge's N/… topics)"
          : "no D-Bus services yet",
        { dim: true },
      ),
    ]);
    return out;
  }
  const cursor = Math.min(ui.cursor.dbus, rows.length - 1);
  const scroll = Math.min(Math.max(ui.scroll.dbus, cursor - visible + 1), cursor);
  const pathW = Math.max(20, Math.floor(columns * 0.5));
  for (let i = 0; i < visible && scroll + i < rows.length; i++) {
    const row = rows[scroll + i];
    const s = state.services.get(row.service)!;
    const at = scroll + i === cursor;
    const grey = s.gone || st.dbus;
    if (row.kind === "service") {
      const open = ui.filter !== "" || ui.expanded.has(row.service);
      const text = `${open ? "▾" : "▸"} ${row.service.padEnd(18)} ${padEnd(productName(s), 30)} ${
        sortedPaths(s).length
      } path${sortedPaths(s).length === 1 ? "" : "s"}${s.gone ? " (left the bus)" : ""}`;
      out.push([
        seg(
          text,
          at ? { inverse: true } : grey ? { color: "gray", dim: true } : { bold: true, color: "cyan" },
        ),
      ]);
    } else {
      const p = s.paths.get(row.path)!;
      const val = dbusText(p);
      const style: Omit<Seg, "text"> = at
        ? { inverse: true }
        : grey
        ? { color: "gray", dim: true }
        : p.invalid
        ? { dim: true }
        : {};
      out.push([
        seg(`    ${padEnd(row.path, pathW - 4)} `, style),
        seg(val, at ? { inverse: true } : grey || p.invalid ? style : { color: "green" }),
      ]);
    }
  }
  return out.slice(0, body);
}

// ---------------------------------------------------------------------------------------------------------
// log, help, status

function logPane(v: ViewInput, body: number): Line[] {
  const colour: Record<string, Colour | undefined> = { debug: "gray", warn: "yellow", error: "red" };
  const end = Math.max(0, v.log.length - v.ui.scroll.log);
  return v.log.slice(Math.max(0, end - body), end).map((e) => {
    const fields = Object.entries(e.fields).filter(([k]) => k !== "component")
      .map(([k, x]) => `${k}=${typeof x === "string" ? x : JSON.stringify(x)}`).join(" ");
    return [
      seg(
        `${e.time.toISOString().slice(11, 19)} ${e.level.padEnd(5)} ${e.msg}${fields ? " " + fields : ""}`,
        {
          color: colour[e.level],
        },
      ),
    ];
  });
}

function helpLines(columns: number): Line[] {
  const w = Math.min(24, Math.floor(columns / 3));
  return [
    [seg("keys (any key closes this help)", { bold: true })],
    ...HELP.map(([k, d]): Line => [seg(padEnd(k, w), { bold: true, color: "cyan" }), seg(" " + d)]),
  ];
}

function statusLine(v: ViewInput): Line {
  const m = v.ui.mode;
  if (m.kind === "prompt") {
    return [seg(`${m.label}: `, { bold: true }), seg(m.text), seg("█")];
  }
  if (m.kind === "confirm") return [seg(m.question, { inverse: true, bold: true, color: "yellow" })];
  if (m.kind === "filter") return [seg("/ ", { bold: true }), seg(v.ui.filter), seg("█")];
  const s = v.ui.status;
  if (s) {
    return [
      seg(s.text, s.ok === true ? { color: "green" } : s.ok === false ? { color: "red", bold: true } : {}),
    ];
  }
  const last = v.state.results[0];
  if (last) {
    return [
      seg(`last result ${last.command}: `),
      seg(last.result, { color: last.result === "OK" ? "green" : "red" }),
    ];
  }
  return [];
}

const PANE_KEYS: Record<UiState["pane"], string> = {
  inputs: "i request",
  holdings: "r read · Enter write · a/f/p toggle · c/d/l percent",
  dbus: "Enter open/write · / filter · R re-read",
  log: "↑↓ scroll",
};

function keyLine(v: ViewInput): Line {
  const m = v.ui.mode;
  if (m.kind === "prompt") {
    return m.error
      ? [seg(m.error, { color: "red", bold: true })]
      : [seg("Enter confirm · Esc cancel", { dim: true })];
  }
  if (m.kind === "confirm") return [seg("y send · n/Esc cancel", { dim: true })];
  if (m.kind === "filter") return [seg("type to filter paths · Enter keep · Esc clear", { dim: true })];
  return [seg(`? help · q quit · Tab/1–4 panes · ↑↓ move · ${PANE_KEYS[v.ui.pane]}`, { dim: true })];
}
