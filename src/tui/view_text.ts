// PURE: the building blocks of the screen — styled segments, lines cut to a width, ages — shared by the
// pane views (view_inputs.ts, view_holdings.ts, view_dbus.ts) and view.ts.

import type { LogEntry } from "../log.ts";
import type { DashboardState } from "./state.ts";
import type { UiState } from "./ui.ts";

export type Colour = "red" | "green" | "yellow" | "cyan" | "gray" | "magenta";
export interface Seg {
  text: string;
  color?: Colour;
  bold?: boolean;
  dim?: boolean;
  inverse?: boolean;
}
export type Line = Seg[];

export const seg = (text: string, style: Omit<Seg, "text"> = {}): Seg => ({ text, ...style });

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

export const cut = (s: string, n: number) => {
  const c = [...s];
  return c.length > n ? c.slice(0, Math.max(0, n - 1)).join("") + "…" : s;
};
export const padEnd = (s: string, n: number) => cut(s, n).padEnd(n);
export const padStart = (s: string, n: number) => cut(s, n).padStart(n);

/** "now", "12 s ago", "3 min ago", "2 h ago" */
export function age(ms: number | undefined, now: number): string {
  if (ms === undefined) return "never";
  const s = Math.max(0, Math.floor((now - ms) / 1000));
  if (s < 1) return "now";
  if (s < 120) return `${s} s ago`;
  if (s < 7200) return `${Math.floor(s / 60)} min ago`;
  return `${Math.floor(s / 3600)} h ago`;
}

export const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

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
export const DETAIL_LINES = 6;

export function listRows(pane: UiState["pane"], rows: number): number {
  const body = Math.max(1, rows - 4);
  if (pane === "holdings") return Math.max(1, body - 1 - DETAIL_LINES);
  if (pane === "dbus") return Math.max(1, body - 1);
  return body;
}
