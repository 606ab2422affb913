// PURE: the console's own state (pane, cursors, prompts, filter) and what each key does to it. A key
// returns the new UI state and, at most, one effect for the runner to carry out (read, write, quit).

import { type CommandDef, COMMANDS } from "../lxp/commands.ts";
import { HOLD_REGISTERS } from "../lxp/registers.ts";
import { type DashboardState, dbusText, IDENTITY_PATHS, sortedPaths, sortedServices } from "./state.ts";
import { parseJsonInput, parseRegisterInput, registerLabel, registerRange, writeQuestion } from "./edit.ts";
import { findRegister } from "../lxp/registers.ts";

export const PANES = ["inputs", "holdings", "dbus", "log"] as const;
export type Pane = (typeof PANES)[number];

export type Effect =
  | { kind: "quit" }
  | { kind: "interrupt" }
  | { kind: "nextInverter" }
  | { kind: "readInputs" }
  | { kind: "readHolds" }
  | { kind: "writeHold"; register: number; value: number; label: string }
  | { kind: "setBit"; register: number; bit: number; on: boolean; label: string }
  | { kind: "dbusWrite"; service: string; path: string; json: unknown }
  | { kind: "dbusRead"; service: string; path: string };

export type PromptTarget =
  | { kind: "hold"; register: number }
  | { kind: "dbus"; service: string; path: string };

export type Mode =
  | { kind: "normal" }
  | { kind: "help" }
  | { kind: "filter" }
  | { kind: "prompt"; target: PromptTarget; label: string; text: string; error?: string }
  | { kind: "confirm"; question: string; effect: Effect };

export interface UiState {
  pane: Pane;
  cursor: Record<Pane, number>;
  scroll: Record<Pane, number>;
  /** Expanded D-Bus services (type/instance). */
  expanded: Set<string>;
  /** D-Bus path filter (substring, case-insensitive). */
  filter: string;
  mode: Mode;
  /** The last outcome line ("OK: …", "FAIL: …", progress). */
  status?: { text: string; ok?: boolean };
}

export function initialUi(): UiState {
  const zero = { inputs: 0, holdings: 0, dbus: 0, log: 0 };
  return {
    pane: "inputs",
    cursor: { ...zero },
    scroll: { ...zero },
    expanded: new Set(),
    filter: "",
    mode: { kind: "normal" },
  };
}

/** The subset of ink's Key the console uses. */
export interface KeyInfo {
  upArrow?: boolean;
  downArrow?: boolean;
  pageUp?: boolean;
  pageDown?: boolean;
  home?: boolean;
  end?: boolean;
  return?: boolean;
  escape?: boolean;
  tab?: boolean;
  backspace?: boolean;
  delete?: boolean;
  ctrl?: boolean;
}

/** Keys of the named commands (holdings pane), one per entry of the command table. */
const COMMAND_KEYS: Readonly<Record<string, string>> = {
  ac_charge: "a",
  forced_discharge: "f",
  charge_priority: "p",
  charge_pct: "c",
  discharge_pct: "d",
  charge_amount_pct: "l",
};

export const HELP: readonly [string, string][] = [
  ["Tab 1–4", "switch pane: inputs, holdings, D-Bus, log"],
  ["↑↓ PgUp/Dn", "move the cursor / scroll (Home, End: first, last)"],
  ["?", "this help (any key closes it)"],
  ["q", "quit (exit 0); Ctrl-C exits 130"],
  ["n", "several inverters ([lxp.NAME]): show the next one"],
  ["i", "inputs: request input blocks 1–3 now"],
  ["r", "holdings: read registers 0–239 in blocks of 40"],
  ["Enter", "holdings: write the register under the cursor (value, then y/n)"],
  ...COMMANDS.map((c): [string, string] => [
    COMMAND_KEYS[c.name],
    `holdings: ${c.label}${c.value.kind === "bool" ? " on/off" : ` ${c.value.min}–${c.value.max}`}`,
  ]),
  ["Enter", "D-Bus: expand/collapse a service; on a path write a JSON value"],
  ["R", "D-Bus: re-read the path under the cursor"],
  ["/", "D-Bus: filter paths (Enter keeps, Esc clears)"],
];

/** Holding registers as rows: every register the table describes, 0–239. */
export const HOLD_ROWS: readonly number[] = [...new Set(HOLD_REGISTERS.map((d) => d.register))].sort((a, b) =>
  a - b
);

export type DbusRow =
  | { kind: "service"; service: string }
  | { kind: "path"; service: string; path: string };

let rowsCache: { key: string; state: DashboardState; rows: DbusRow[] } | undefined;

/**
 * Service rows, and under expanded ones (every one while a filter is set) their matching paths. Cached
 * until a service or path comes or goes, or the filter or the expanded set changes: a flood of value
 * changes doesn't rebuild them.
 */
export function dbusRows(state: DashboardState, ui: Pick<UiState, "expanded" | "filter">): DbusRow[] {
  const key = `${state.structure}\n${ui.filter}\n${[...ui.expanded].join("\n")}`;
  if (rowsCache && rowsCache.state === state && rowsCache.key === key) return rowsCache.rows;
  const rows: DbusRow[] = [];
  const f = ui.filter.toLowerCase();
  for (const s of sortedServices(state)) {
    if (!f) {
      rows.push({ kind: "service", service: s.key });
      if (ui.expanded.has(s.key)) {
        for (const p of sortedPaths(s)) rows.push({ kind: "path", service: s.key, path: p });
      }
      continue;
    }
    const paths = sortedPaths(s).filter((p) => p.toLowerCase().includes(f));
    if (!paths.length) continue;
    rows.push({ kind: "service", service: s.key });
    for (const p of paths) rows.push({ kind: "path", service: s.key, path: p });
  }
  rowsCache = { key, state, rows };
  return rows;
}

/** The keep-alive filters for what the D-Bus pane shows: identity paths always, expanded services fully. */
export function keepaliveFilters(ui: Pick<UiState, "expanded" | "filter" | "pane">): string[] {
  if (ui.pane === "dbus" && ui.filter) return ["#"];
  return [...IDENTITY_PATHS.map((p) => `+/+${p}`), ...[...ui.expanded].sort().map((s) => `${s}/#`)];
}

function rowCount(state: DashboardState, ui: UiState, logLength: number): number {
  switch (ui.pane) {
    case "holdings":
      return HOLD_ROWS.length;
    case "dbus":
      return dbusRows(state, ui).length;
    case "log":
      return logLength;
    default:
      return 0;
  }
}

/** Moves the cursor of the current pane by `delta` (clamped) and scrolls it into a view of `visible` rows. */
function move(ui: UiState, delta: number, count: number, visible: number): UiState {
  const pane = ui.pane;
  if (pane === "inputs") {
    const scroll = Math.max(0, ui.scroll.inputs + delta);
    return { ...ui, scroll: { ...ui.scroll, inputs: scroll } };
  }
  const cursor = Math.max(0, Math.min(count - 1, ui.cursor[pane] + delta));
  let scroll = ui.scroll[pane];
  if (cursor < scroll) scroll = cursor;
  if (cursor >= scroll + visible) scroll = cursor - visible + 1;
  return {
    ...ui,
    cursor: { ...ui.cursor, [pane]: cursor },
    scroll: { ...ui.scroll, [pane]: Math.max(0, scroll) },
  };
}

export interface KeyContext {
  state: DashboardState;
  /** Rows of the pane's list that fit on screen. */
  visible: number;
  logLength: number;
}

/** One key press. */
export function handleKey(ui: UiState, input: string, key: KeyInfo, ctx: KeyContext): {
  ui: UiState;
  effect?: Effect;
} {
  if (key.ctrl && input === "c") return { ui, effect: { kind: "interrupt" } };
  const mode = ui.mode;
  if (mode.kind === "help") return { ui: { ...ui, mode: { kind: "normal" } } };
  if (mode.kind === "confirm") {
    if (input === "y" || input === "Y") {
      return { ui: { ...ui, mode: { kind: "normal" }, status: { text: "sending…" } }, effect: mode.effect };
    }
    if (input === "n" || input === "N" || key.escape) {
      return { ui: { ...ui, mode: { kind: "normal" }, status: { text: "cancelled" } } };
    }
    return { ui };
  }
  if (mode.kind === "prompt") return promptKey(ui, mode, input, key);
  if (mode.kind === "filter") {
    if (key.escape) return { ui: resetCursor({ ...ui, filter: "", mode: { kind: "normal" } }) };
    if (key.return) return { ui: { ...ui, mode: { kind: "normal" } } };
    if (key.backspace || key.delete) return { ui: resetCursor({ ...ui, filter: ui.filter.slice(0, -1) }) };
    if (input && !key.ctrl && isPrintable(input)) {
      return { ui: resetCursor({ ...ui, filter: ui.filter + input }) };
    }
    return { ui };
  }
  // normal mode
  if (input === "q") return { ui, effect: { kind: "quit" } };
  if (input === "n") return { ui, effect: { kind: "nextInverter" } };
  if (input === "?") return { ui: { ...ui, mode: { kind: "help" } } };
  if (key.tab) return { ui: { ...ui, pane: PANES[(PANES.indexOf(ui.pane) + 1) % PANES.length] } };
  if (["1", "2", "3", "4"].includes(input)) return { ui: { ...ui, pane: PANES[Number(input) - 1] } };
  const count = rowCount(ctx.state, ui, ctx.logLength);
  const page = Math.max(1, ctx.visible - 1);
  if (key.downArrow) return { ui: move(ui, 1, count, ctx.visible) };
  if (key.upArrow) return { ui: move(ui, -1, count, ctx.visible) };
  if (key.pageDown) return { ui: move(ui, page, count, ctx.visible) };
  if (key.pageUp) return { ui: move(ui, -page, count, ctx.visible) };
  if (key.home) return { ui: move(ui, -1e9, count, ctx.visible) };
  if (key.end) return { ui: move(ui, 1e9, count, ctx.visible) };
  if (ui.pane === "inputs" && input === "i") {
    return {
      ui: { ...ui, status: { text: "requesting input blocks 1–3…" } },
      effect: { kind: "readInputs" },
    };
  }
  if (ui.pane === "holdings") return holdingsKey(ui, input, key, ctx);
  if (ui.pane === "dbus") return dbusKey(ui, input, key, ctx);
  return { ui };
}

function isPrintable(s: string): boolean {
  for (const ch of s) if (ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f) return false;
  return true;
}

function resetCursor(ui: UiState): UiState {
  return { ...ui, cursor: { ...ui.cursor, dbus: 0 }, scroll: { ...ui.scroll, dbus: 0 } };
}

function holdingsKey(ui: UiState, input: string, key: KeyInfo, ctx: KeyContext) {
  if (input === "r") {
    return { ui: { ...ui, status: { text: "reading 0–239…" } }, effect: { kind: "readHolds" } as Effect };
  }
  if (key.return) {
    const register = HOLD_ROWS[ui.cursor.holdings];
    const def = findRegister("hold", register)!;
    return {
      ui: {
        ...ui,
        mode: {
          kind: "prompt",
          target: { kind: "hold", register },
          label: `${register} ${registerLabel(register)} (${registerRange(def)})`,
          text: "",
        } as Mode,
      },
    };
  }
  const command = COMMANDS.find((c) => COMMAND_KEYS[c.name] === input);
  if (command) return commandKey(ui, command, ctx.state);
  return { ui };
}

function commandKey(ui: UiState, c: CommandDef, state: DashboardState): { ui: UiState } {
  if (c.value.kind === "bool") {
    const raw = state.holds.get(c.register)?.raw;
    const on = raw === undefined ? true : ((raw >>> c.value.bit) & 1) === 0;
    const effect: Effect = { kind: "setBit", register: c.register, bit: c.value.bit, on, label: c.label };
    return {
      ui: { ...ui, mode: { kind: "confirm", question: `turn ${c.label} ${on ? "on" : "off"}? y/n`, effect } },
    };
  }
  return {
    ui: {
      ...ui,
      mode: {
        kind: "prompt",
        target: { kind: "hold", register: c.register },
        label: `${c.register} ${c.label} (${c.value.min}–${c.value.max})`,
        text: "",
      },
    },
  };
}

function dbusKey(ui: UiState, input: string, key: KeyInfo, ctx: KeyContext) {
  if (input === "/") return { ui: { ...ui, mode: { kind: "filter" } as Mode } };
  if (key.escape && ui.filter) return { ui: resetCursor({ ...ui, filter: "" }) };
  const row = dbusRows(ctx.state, ui)[ui.cursor.dbus];
  if (!row) return { ui };
  if (key.return && row.kind === "service") {
    const expanded = new Set(ui.expanded);
    if (expanded.has(row.service)) expanded.delete(row.service);
    else expanded.add(row.service);
    return { ui: { ...ui, expanded } };
  }
  if (key.return && row.kind === "path") {
    const current = ctx.state.services.get(row.service)?.paths.get(row.path);
    return {
      ui: {
        ...ui,
        mode: {
          kind: "prompt",
          target: { kind: "dbus", service: row.service, path: row.path },
          label: `${row.service}${row.path} (JSON)`,
          text: current && !current.invalid ? dbusText(current) : "",
        } as Mode,
      },
    };
  }
  if (input === "R" && row.kind === "path") {
    return {
      ui: { ...ui, status: { text: `reading ${row.service}${row.path}…` } },
      effect: { kind: "dbusRead", service: row.service, path: row.path } as Effect,
    };
  }
  return { ui };
}

function promptKey(ui: UiState, mode: Extract<Mode, { kind: "prompt" }>, input: string, key: KeyInfo) {
  if (key.escape) return { ui: { ...ui, mode: { kind: "normal" } as Mode, status: { text: "cancelled" } } };
  if (key.backspace || key.delete) {
    return { ui: { ...ui, mode: { ...mode, text: mode.text.slice(0, -1), error: undefined } } };
  }
  if (key.return) {
    const t = mode.target;
    if (t.kind === "hold") {
      const r = parseRegisterInput(t.register, mode.text);
      if (!r.ok) return { ui: { ...ui, mode: { ...mode, error: r.error } } };
      const effect: Effect = {
        kind: "writeHold",
        register: t.register,
        value: r.raw,
        label: registerLabel(t.register),
      };
      return {
        ui: {
          ...ui,
          mode: { kind: "confirm", question: writeQuestion(t.register, mode.text), effect } as Mode,
        },
      };
    }
    const r = parseJsonInput(mode.text);
    if (!r.ok) return { ui: { ...ui, mode: { ...mode, error: r.error } } };
    const effect: Effect = { kind: "dbusWrite", service: t.service, path: t.path, json: r.json };
    return {
      ui: {
        ...ui,
        mode: {
          kind: "confirm",
          question: `write ${JSON.stringify(r.json)} to ${t.service}${t.path}? y/n`,
          effect,
        } as Mode,
      },
    };
  }
  if (input && !key.ctrl && isPrintable(input)) {
    return { ui: { ...ui, mode: { ...mode, text: mode.text + input, error: undefined } } };
  }
  return { ui };
}
