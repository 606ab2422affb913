// Where the console's data comes from and where its writes go: the broker (--via mqtt, src/tui/
// source_mqtt.ts) or the dongle and the bus themselves (--via direct, src/tui/source_direct.ts). Both
// report what they see as TuiEvents and carry out the same operations.

import type { LogFields, Logger } from "../log.ts";
import type { RegisterTransport } from "../lxp/transport.ts";
import type { TuiEvent, Via } from "./state.ts";

export interface TuiSource {
  readonly via: Via;
  /** Broker URI or dongle/bus address, for the header. */
  readonly where: string;
  readonly prefix: string;
  /** Starts following; events arrive through `emit` until stop(). Rejects when nothing can be reached. */
  start(emit: (ev: TuiEvent) => void): Promise<void>;
  /** Register reads/writes; undefined when the source has no inverter (no [lxp] in --via direct). */
  readonly registers?: RegisterTransport;
  /** Asks for input blocks 1–3 now (the answers arrive as events). */
  requestInputs(): Promise<void>;
  dbusWrite(service: string, path: string, json: unknown): Promise<void>;
  /** Reads a path again (the answer arrives as an event). */
  dbusRead(service: string, path: string): Promise<void>;
  /** What the D-Bus pane shows, as keep-alive filters (only --via mqtt uses it). */
  setKeepalive(filters: string[]): void;
  stop(): Promise<void>;
}

/**
 * A logger wrapper for links that retry: a warning or error already logged since the last info line (a
 * state change such as "reconnected") is dropped — one line per state change, not one per retry.
 */
export function dedupLogger(inner: Logger): Logger {
  const seen = new Set<string>();
  const make = (l: Logger): Logger => {
    const emit = (level: "debug" | "info" | "warn" | "error") => (msg: string, fields?: LogFields) => {
      if (level === "info") seen.clear();
      else if (level !== "debug") {
        const k = `${level} ${msg} ${JSON.stringify(fields ?? {})}`;
        if (seen.has(k)) return;
        seen.add(k);
      }
      l[level](msg, fields);
    };
    return {
      debug: emit("debug"),
      info: emit("info"),
      warn: emit("warn"),
      error: emit("error"),
      child: (f: LogFields) => make(l.child(f)),
    };
  };
  return make(inner);
}

/**
 * A logger for a link whose state the console shows itself (the MQTT links): warnings and errors — one per
 * retry — are kept as the link's last problem (shown in the one "lost" line) and logged at debug only.
 */
export function quietLinkLogger(inner: Logger): { logger: Logger; lastProblem(): string | undefined } {
  let last: string | undefined;
  const make = (l: Logger): Logger => {
    const keep = (msg: string, fields?: LogFields) => {
      const err = fields?.error;
      if (err !== undefined) last = `${msg}: ${err instanceof Error ? err.message : String(err)}`;
      else last ??= msg;
      l.debug(msg, fields);
    };
    return {
      debug: (m, f) => l.debug(m, f),
      info: (m, f) => {
        last = undefined; // (re)connected: a new outage starts afresh
        l.info(m, f);
      },
      warn: keep,
      error: keep,
      child: (f: LogFields) => make(l.child(f)),
    };
  };
  return { logger: make(inner), lastProblem: () => last };
}
