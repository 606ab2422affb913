// The interactive dashboard (ink + React): inputs 1–3 (and 4), holding registers, the D-Bus tree and the
// log, fed by the MQTT topics the bridges publish. Keys: Tab / 1–4 switch panes, ↑/↓ scroll, r refresh,
// q or Ctrl+C quit.

import React, { useEffect, useState } from "react";
import { Box, Text, useApp, useInput, useStdin } from "ink";
import { type DashboardState, dbusTree, holdingRows } from "./state.ts";
import { inputKeyUnit } from "../lxp/inputs.ts";
import type { LogEntry } from "../log.ts";

export const PANES = ["inputs", "holdings", "dbus", "log"] as const;
export type Pane = (typeof PANES)[number];

export interface DashboardProps {
  /** Returns the current state (mutated in place by the MQTT handler). */
  getState: () => DashboardState;
  getLog: () => LogEntry[];
  /** Ask the bridge for fresh data (read_input 1–3, read_hold blocks). */
  refresh?: () => void;
  /** Ctrl-C: the dashboard ends and the program exits 130 (q quits with 0). */
  onInterrupt?: () => void;
  /** Re-render period in ms. */
  tickMs?: number;
  rows?: number;
}

function InputsPane({ state, offset, rows }: { state: DashboardState; offset: number; rows: number }) {
  const blocks = ["1", "2", "3", "4"].filter((b) => state.inputs[b]);
  if (!blocks.length) return <Text dimColor>no inputs yet — press r to request them</Text>;
  return (
    <Box flexDirection="row" gap={2}>
      {blocks.map((b) => (
        <Box key={b} flexDirection="column">
          <Text bold>inputs/{b}</Text>
          {Object.entries(state.inputs[b]).slice(offset, offset + rows).map(([k, v]) => (
            <Text key={k}>
              {k.padEnd(16)} <Text color="green">{String(v).padStart(9)}</Text> {inputKeyUnit(k)}
            </Text>
          ))}
        </Box>
      ))}
    </Box>
  );
}

function HoldingsPane({ state, offset, rows }: { state: DashboardState; offset: number; rows: number }) {
  const all = holdingRows(state);
  if (!all.length) return <Text dimColor>no holding registers seen yet — press r to read 0–239</Text>;
  return (
    <Box flexDirection="column">
      {all.slice(offset, offset + rows).map((r) => (
        <Text key={r.register}>
          {String(r.register).padStart(3)} {r.name.slice(0, 44).padEnd(44)}{" "}
          <Text color="green">{r.value}</Text>
        </Text>
      ))}
    </Box>
  );
}

function DbusPane({ state, offset, rows }: { state: DashboardState; offset: number; rows: number }) {
  const lines: { key: string; text: React.ReactNode }[] = [];
  for (const g of dbusTree(state)) {
    lines.push({ key: g.service, text: <Text bold color="cyan">{g.service}</Text> });
    for (const it of g.items) {
      lines.push({
        key: g.service + it.path,
        text: (
          <Text>
            {it.path.padEnd(40)} <Text color="green">{it.value}</Text>
          </Text>
        ),
      });
    }
  }
  if (!lines.length) return <Text dimColor>no D-Bus values yet (keep-alive is sent every 30 s)</Text>;
  return (
    <Box flexDirection="column">
      {lines.slice(offset, offset + rows).map((l) => <Text key={l.key}>{l.text}</Text>)}
    </Box>
  );
}

function LogPane({ log, rows }: { log: LogEntry[]; rows: number }) {
  const colour = { debug: "gray", info: "white", warn: "yellow", error: "red" } as const;
  return (
    <Box flexDirection="column">
      {log.slice(-rows).map((e, i) => (
        <Text key={i} color={colour[e.level]}>
          {e.time.toISOString().slice(11, 19)} {e.level.padEnd(5)} {e.msg}
          {Object.keys(e.fields).length ? " " + JSON.stringify(e.fields) : ""}
        </Text>
      ))}
    </Box>
  );
}

export function Dashboard(
  { getState, getLog, refresh, onInterrupt, tickMs = 250, rows = 20 }: DashboardProps,
) {
  const { exit } = useApp();
  const { isRawModeSupported } = useStdin();
  const [pane, setPane] = useState<Pane>("inputs");
  const [offset, setOffset] = useState(0);
  const [, setTick] = useState(0);
  useEffect(() => {
    const t = setInterval(() => setTick((n) => n + 1), tickMs);
    return () => clearInterval(t);
  }, [tickMs]);
  useInput((input, key) => {
    if (input === "q") exit();
    else if (key.ctrl && input === "c") {
      onInterrupt?.();
      exit();
    } else if (input === "r") refresh?.();
    else if (key.tab) {
      setPane((p) => PANES[(PANES.indexOf(p) + 1) % PANES.length]);
      setOffset(0);
    } else if (["1", "2", "3", "4"].includes(input)) {
      setPane(PANES[Number(input) - 1]);
      setOffset(0);
    } else if (key.downArrow) setOffset((o) => o + 1);
    else if (key.upArrow) setOffset((o) => Math.max(0, o - 1));
    else if (key.pageDown) setOffset((o) => o + rows);
    else if (key.pageUp) setOffset((o) => Math.max(0, o - rows));
  }, { isActive: isRawModeSupported === true });

  const state = getState();
  const last = state.results[0];
  return (
    <Box flexDirection="column" borderStyle="round" paddingX={1}>
      <Box gap={2}>
        <Text bold color="cyan">ess2mqtt</Text>
        <Text>
          bridge <Text color={state.bridge === "online" ? "green" : "red"}>{state.bridge}</Text>
        </Text>
        <Text>
          inverter <Text color={state.inverter === "online" ? "green" : "red"}>{state.inverter}</Text>
        </Text>
        {state.portal ? <Text>portal {state.portal}</Text> : null}
        <Text dimColor>{state.messages} msgs</Text>
        {last
          ? (
            <Text>
              last {last.command}: <Text color={last.result === "OK" ? "green" : "red"}>{last.result}</Text>
            </Text>
          )
          : null}
      </Box>
      <Box gap={1}>
        {PANES.map((p, i) => <Text key={p} inverse={p === pane}>{` ${i + 1} ${p} `}</Text>)}
      </Box>
      <Box marginTop={1} minHeight={rows}>
        {pane === "inputs" && <InputsPane state={state} offset={offset} rows={rows} />}
        {pane === "holdings" && <HoldingsPane state={state} offset={offset} rows={rows} />}
        {pane === "dbus" && <DbusPane state={state} offset={offset} rows={rows} />}
        {pane === "log" && <LogPane log={getLog()} rows={rows} />}
      </Box>
      <Text dimColor>Tab/1–4 panes · ↑↓ PgUp/PgDn scroll · r refresh · q quit</Text>
    </Box>
  );
}
