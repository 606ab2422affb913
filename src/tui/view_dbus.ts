// PURE: the D-Bus pane — services (type/instance, product name) and, expanded or filtered, their paths
// with live values; invalid values and departed devices shown as such.

import { dbusText, productName, sortedPaths, staleness } from "./state.ts";
import { dbusRows } from "./ui.ts";
import { type Line, listRows, padEnd, plural, type Seg, seg, type ViewInput } from "./view_text.ts";

export function dbusPane(v: ViewInput, body: number): Line[] {
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
