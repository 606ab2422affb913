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

/** A logger wrapper that drops an entry equal to the one before it (one line per state change, not per retry). */
export function dedupLogger(inner: Logger): Logger {
  let last = "";
  const make = (l: Logger): Logger => {
    const emit = (level: "debug" | "info" | "warn" | "error") => (msg: string, fields?: LogFields) => {
      const k = `${level} ${msg} ${JSON.stringify(fields ?? {})}`;
      if (k === last) return;
      last = k;
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
