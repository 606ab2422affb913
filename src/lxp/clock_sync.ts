// Keeping the inverter's clock (holdings 12–14) on the host's local wall time: one check-and-set
// (`syncClock`, used by `ess2mqtt time sync` and the schedule) and the `[lxp] time_sync = daily` schedule
// (ClockSync: a check when the link first comes up, then once a day; a check that could not run is
// retried when the link next comes up). Clock and timers are injected so the schedule is tested in-process.

import type { Logger } from "../log.ts";
import {
  CLOCK_COUNT,
  CLOCK_REGISTER,
  type ClockFields,
  decodeClock,
  driftSeconds,
  formatClock,
  localFields,
} from "./clock.ts";
import { LxpError } from "./errors.ts";

/** What a clock check needs: read 12–14 and set them (write-multi). */
export interface ClockPort {
  readHold(register: number, count?: number): Promise<number[]>;
  setClock(fields: ClockFields): Promise<void>;
}

export interface SyncResult {
  /** The inverter's clock before any change; null when 12–14 hold no valid time (see `invalid`). */
  inverter: ClockFields | null;
  invalid?: string;
  host: ClockFields;
  /** Inverter minus host, seconds, before any change. */
  driftS: number;
  /** The clock was set (|drift| > threshold). */
  synced: boolean;
}

/** Reads the inverter clock; sets it to the host's local time when it is off by more than thresholdS. */
export async function syncClock(port: ClockPort, now: () => Date, thresholdS: number): Promise<SyncResult> {
  const regs = await port.readHold(CLOCK_REGISTER, CLOCK_COUNT);
  const inverter = decodeClock(regs);
  const hostNow = now();
  // A clock the inverter cannot even express (e.g. month 0 after a battery change) is always set.
  const driftS = typeof inverter === "string" ? Number.POSITIVE_INFINITY : driftSeconds(inverter, hostNow);
  const synced = Math.abs(driftS) > thresholdS;
  if (synced) await port.setClock(localFields(now()));
  return {
    inverter: typeof inverter === "string" ? null : inverter,
    ...(typeof inverter === "string" ? { invalid: inverter } : {}),
    host: localFields(hostNow),
    driftS,
    synced,
  };
}

export interface ClockSyncOptions {
  port: ClockPort;
  /** The link whose coming up triggers a due check. */
  link: { readonly connected: boolean; onLink(listener: (up: boolean) => void): () => void };
  thresholdS: number;
  /** Between scheduled checks (default one day). */
  intervalMs?: number;
  now?: () => Date;
  /** Injected timers (tests); default setInterval/clearInterval. */
  every?: (fn: () => void, ms: number) => () => void;
  logger: Logger;
}

export class ClockSync {
  readonly stats = { checks: 0, syncs: 0, failures: 0 };
  private due = true;
  private running: Promise<void> | null = null;
  private stops: (() => void)[] = [];
  private readonly now: () => Date;

  constructor(private readonly o: ClockSyncOptions) {
    this.now = o.now ?? (() => new Date());
  }

  start(signal?: AbortSignal): void {
    const every = this.o.every ?? ((fn, ms) => {
      const id = setInterval(fn, ms);
      return () => clearInterval(id);
    });
    this.stops.push(this.o.link.onLink((up) => {
      if (up && this.due) void this.check();
    }));
    this.stops.push(every(() => {
      this.due = true;
      if (this.o.link.connected) void this.check();
    }, this.o.intervalMs ?? 86_400_000));
    if (this.o.link.connected) void this.check();
    signal?.addEventListener("abort", () => void this.stop(), { once: true });
  }

  async stop(): Promise<void> {
    for (const s of this.stops.splice(0)) s();
    await this.running;
  }

  /** Resolves when no check is running. */
  idle(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  /** One check now (skipped when one is running). Never throws: failures are logged and retried later. */
  check(): Promise<void> {
    if (this.running) return this.running;
    this.running = this.runCheck().finally(() => (this.running = null));
    return this.running;
  }

  private async runCheck(): Promise<void> {
    const log = this.o.logger;
    this.stats.checks++;
    try {
      const r = await syncClock(this.o.port, this.now, this.o.thresholdS);
      this.due = false;
      const fields = {
        inverter: r.inverter ? formatClock(r.inverter) : r.invalid,
        host: formatClock(r.host),
        drift_s: Number.isFinite(r.driftS) ? r.driftS : null,
        threshold_s: this.o.thresholdS,
      };
      if (r.synced) {
        this.stats.syncs++;
        log.info("inverter clock set to host local time", fields);
      } else log.debug("inverter clock within threshold", fields);
    } catch (err) {
      this.stats.failures++;
      const kind = err instanceof LxpError ? err.kind : "error";
      log.warn("inverter clock check failed; retrying when the link is next up", {
        error: (err as Error).message,
        kind,
      });
    }
  }
}
