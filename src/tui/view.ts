// PURE: the screen as lines of styled segments, exactly `columns` wide and `rows` high — header, tabs,
// the pane, a status/prompt line and a key line. Nothing wraps: every line is cut to the width. The React
// side (app.tsx) only turns the lines into <Text>. The panes are in view_inputs.ts, view_holdings.ts and
// view_dbus.ts.

import type { InputBlock } from "../lxp/inputs.ts";
import { type LinkInfo, staleness } from "./state.ts";
import { HELP, PANES, type UiState } from "./ui.ts";
import { age, type Colour, fit, type Line, padEnd, type Seg, seg, type ViewInput } from "./view_text.ts";
import { inputsPane } from "./view_inputs.ts";
import { holdingsPane } from "./view_holdings.ts";
import { dbusPane } from "./view_dbus.ts";

export { age, fit, type Line, listRows, type Seg, type ViewInput } from "./view_text.ts";
export { powerFlow } from "./view_inputs.ts";
export { decodedHold } from "./view_holdings.ts";

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
  const w = columns < 100 ? 12 : 24;
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
