// The live state of the console: the folded DashboardState, the log ring and change listeners (the
// view subscribes and redraws at most every 100 ms).

import type { LogEntry } from "../log.ts";
import { applyEvent, type DashboardState, type TuiEvent } from "./state.ts";

export class Store {
  private listeners = new Set<() => void>();

  constructor(public state: DashboardState, public log: LogEntry[] = [], private now = () => Date.now()) {}

  /** Folds an event; returns the link-change note of applyEvent. */
  apply(ev: TuiEvent): string | undefined {
    const note = applyEvent(this.state, ev, this.now());
    this.changed();
    return note;
  }

  changed(): void {
    for (const l of this.listeners) l();
  }

  subscribe(l: () => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
}
