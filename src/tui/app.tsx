// The console (ink + React): turns the lines of view.ts into <Text>, feeds keys to ui.ts and runs the
// effects. Redraws when the store changes, at most every `minRedrawMs` (default 100 ms → ≤ 10/s), and
// once a second for the ages; follows the terminal size unless a fixed size is given (tests).

import { useEffect, useReducer, useRef } from "react";
import {
  Box,
  type Instance,
  render,
  type RenderOptions,
  Text,
  useApp,
  useInput,
  useStdin,
  useWindowSize,
} from "ink";
import type { Store } from "./store.ts";
import { handleKey, initialUi, keepaliveFilters, type KeyInfo, type UiState } from "./ui.ts";
import { type Line, listRows, render as renderView } from "./view.ts";
import type { EffectRunner } from "./effects.ts";

export interface DashboardProps {
  store: Store;
  /** Carries out reads and writes; without it the console is read-only. */
  run?: EffectRunner;
  /** Fixed size (tests); default: the terminal's, following resizes. */
  columns?: number;
  rows?: number;
  /** No colours (NO_COLOR): bold, dim and inverse only. */
  mono?: boolean;
  now?: () => number;
  minRedrawMs?: number;
  /** q → "quit", Ctrl-C → "interrupt", n → "next" (another inverter); the app exits right after. */
  onExit?: (how: "quit" | "interrupt" | "next") => void;
  /** Several inverters: n switches to the next one. */
  canSwitchInverter?: boolean;
  /** The keep-alive filters for what is on screen (called when they change). */
  onKeepalive?: (filters: string[]) => void;
  initial?: Partial<UiState>;
}

/** Control characters inside a multi-character read, as the keys they are. */
const CHUNK_KEYS: Record<string, KeyInfo> = {
  "\r": { return: true },
  "\n": { return: true },
  "\t": { tab: true },
  "\x7f": { backspace: true },
  "\b": { backspace: true },
  "\x1b": { escape: true },
};

function LineView({ line, mono }: { line: Line; mono: boolean }) {
  return (
    <Text wrap="truncate">
      {line.map((s, i) => (
        <Text
          key={i}
          color={mono ? undefined : s.color}
          bold={s.bold}
          dimColor={s.dim}
          inverse={s.inverse}
        >
          {s.text}
        </Text>
      ))}
    </Text>
  );
}

export function Dashboard(props: DashboardProps) {
  const {
    store,
    run,
    mono = false,
    now = Date.now,
    minRedrawMs = 100,
    onExit,
    onKeepalive,
    canSwitchInverter,
  } = props;
  const { exit } = useApp();
  const { isRawModeSupported } = useStdin();
  const win = useWindowSize();
  const columns = props.columns ?? win.columns ?? 80;
  const rows = props.rows ?? win.rows ?? 24;
  const ui = useRef<UiState>({ ...initialUi(), ...props.initial });
  const [, redraw] = useReducer((n: number) => n + 1, 0);
  const lastDraw = useRef(0);
  const sentFilters = useRef("");

  // store changes → a throttled redraw; ages → once a second
  useEffect(() => {
    let pending: ReturnType<typeof setTimeout> | undefined;
    const off = store.subscribe(() => {
      if (pending) return;
      const wait = Math.max(0, lastDraw.current + minRedrawMs - Date.now());
      pending = setTimeout(() => {
        pending = undefined;
        redraw();
      }, wait);
    });
    const ages = setInterval(redraw, 1000);
    return () => {
      off();
      clearTimeout(pending);
      clearInterval(ages);
    };
  }, [store, minRedrawMs]);

  useEffect(() => {
    const filters = keepaliveFilters(ui.current);
    const text = JSON.stringify(filters);
    if (text !== sentFilters.current) {
      sentFilters.current = text;
      onKeepalive?.(filters);
    }
  });

  const setUi = (next: UiState) => {
    ui.current = next;
    redraw();
  };

  const onKey = (input: string, key: KeyInfo) => {
    const ctx = { state: store.state, visible: listRows(ui.current.pane, rows), logLength: store.log.length };
    const { ui: next, effect } = handleKey(ui.current, input, key, ctx);
    setUi(next);
    if (!effect) return;
    if (effect.kind === "quit" || effect.kind === "interrupt") {
      onExit?.(effect.kind === "quit" ? "quit" : "interrupt");
      exit();
      return;
    }
    if (effect.kind === "nextInverter") {
      if (!canSwitchInverter) {
        setUi({ ...ui.current, status: { text: "one inverter configured: nothing to switch to" } });
        return;
      }
      onExit?.("next");
      exit();
      return;
    }
    if (!run) {
      setUi({ ...ui.current, status: { text: "FAIL: read-only", ok: false } });
      return;
    }
    void run(effect, (o) => setUi({ ...ui.current, status: o })).then((o) =>
      setUi({ ...ui.current, status: o })
    );
  };

  useInput((input, key) => {
    // several characters in one read (typed fast, pasted): one key each
    const chars = [...input];
    if (chars.length > 1 && !key.ctrl && !key.meta) {
      for (const ch of chars) onKey(ch, CHUNK_KEYS[ch] ?? {});
      return;
    }
    onKey(input, key);
  }, { isActive: isRawModeSupported === true });

  lastDraw.current = Date.now();
  const lines = renderView({ state: store.state, ui: ui.current, log: store.log, columns, rows, now: now() });
  return (
    <Box flexDirection="column" width={columns} height={rows}>
      {lines.map((l, i) => <LineView key={i} line={l} mono={mono} />)}
    </Box>
  );
}

/** Renders the console on the terminal (run.tsx imports this module only after choosing React's build). */
export function mountDashboard(props: DashboardProps, options: RenderOptions): Instance {
  return render(<Dashboard {...props} />, options);
}
