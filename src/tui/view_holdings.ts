// PURE: the holdings pane — every holding register of the table with raw value, decoded value (named
// bits for 21 and 110, HH:MM for time slots) and last change; details of the register under the cursor.

import { decodeBits, findRegister, formatValue, HOLD_BIT_FIELDS, scaledValue } from "../lxp/registers.ts";
import { staleness } from "./state.ts";
import { HOLD_ROWS } from "./ui.ts";
import { registerLabel, registerRange } from "./edit.ts";
import {
  age,
  cut,
  DETAIL_LINES,
  type Line,
  listRows,
  padEnd,
  padStart,
  type Seg,
  seg,
  type ViewInput,
} from "./view_text.ts";

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

export function holdingsPane(v: ViewInput, body: number): Line[] {
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
