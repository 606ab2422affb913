// PURE: the keep-alive (spec §3). Payload parsing, topic filters, per-filter lifetimes and expiry, and the
// forced-republish limiter, all on an injected clock: no timers here; the bridge schedules a wake-up at
// nextExpiry()/nextRefill() with its Clock and calls back in.
// No I/O, no timers, no logging.

import type { DecodeResult } from "./variant.ts";

// ------------------------------------------------------------------------------------------------
// Keep-alive

export interface KeepaliveRequest {
  /** Topic filters relative to N/<portal>/ ("vebus/#", "battery/+/Soc"); null = everything. */
  filters: string[] | null;
  /** The fmq options object was used (`{"keepalive-options": […]}`): republish on every keep-alive. */
  options: boolean;
  suppressRepublish: boolean;
  echo?: string;
  /** Options we did not understand (logged by the bridge). */
  unknownOptions: string[];
}

/** Valid filter: non-empty levels; `+` alone in a level; `#` only as the whole last level. */
export function isValidFilter(f: string): boolean {
  if (f === "") return false;
  const levels = f.split("/");
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i];
    if (l === "") return false;
    if (l.includes("#") && (l !== "#" || i !== levels.length - 1)) return false;
    if (l.includes("+") && l !== "+") return false;
  }
  return true;
}

/**
 * Parses the payload of `R/<portal>/keepalive`:
 *  - empty (or whitespace) → everything;
 *  - a JSON list of filters → selective keep-alive (an empty list means everything);
 *  - `{"keepalive-options": ["suppress-republish", {"full-publish-completed-echo": "<token>"}]}`.
 */
export function parseKeepalivePayload(text: string): DecodeResult<KeepaliveRequest> {
  const base: KeepaliveRequest = {
    filters: null,
    options: false,
    suppressRepublish: false,
    unknownOptions: [],
  };
  if (text.trim() === "") return { ok: true, value: base };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { ok: false, error: `keep-alive payload is not JSON: ${JSON.stringify(text.slice(0, 80))}` };
  }
  if (Array.isArray(parsed)) {
    if (parsed.length === 0) return { ok: true, value: base };
    const filters: string[] = [];
    for (const f of parsed) {
      if (typeof f !== "string") {
        return { ok: false, error: `keep-alive filter must be a string, got ${JSON.stringify(f)}` };
      }
      const t = f.startsWith("/") ? f.slice(1) : f;
      if (!isValidFilter(t)) return { ok: false, error: `invalid keep-alive filter ${JSON.stringify(f)}` };
      filters.push(t);
    }
    return { ok: true, value: { ...base, filters: [...new Set(filters)] } };
  }
  if (parsed !== null && typeof parsed === "object") {
    const obj = parsed as Record<string, unknown>;
    const opts = obj["keepalive-options"];
    if (!Object.hasOwn(obj, "keepalive-options") || !Array.isArray(opts)) {
      return {
        ok: false,
        error: `keep-alive object must have a "keepalive-options" list: ${text.slice(0, 80)}`,
      };
    }
    const out: KeepaliveRequest = { ...base, options: true, unknownOptions: [] };
    for (const o of opts) {
      if (o === "suppress-republish") out.suppressRepublish = true;
      else if (o !== null && typeof o === "object" && !Array.isArray(o)) {
        for (const [k, v] of Object.entries(o as Record<string, unknown>)) {
          if (k === "full-publish-completed-echo" && typeof v === "string") out.echo = v;
          else out.unknownOptions.push(JSON.stringify({ [k]: v }));
        }
      } else out.unknownOptions.push(JSON.stringify(o));
    }
    return { ok: true, value: out };
  }
  return {
    ok: false,
    error: `keep-alive payload must be empty, a list of filters or an options object: ${text.slice(0, 80)}`,
  };
}

/** A filter split into levels, for repeated matching. */
export type CompiledFilter = readonly string[];

export function compileFilter(filter: string): CompiledFilter {
  return filter.split("/");
}

/** Does the relative topic ("vebus/257/Hub4/L1/AcPowerSetpoint") match the compiled filter? */
export function filterMatchesLevels(f: CompiledFilter, levels: readonly string[]): boolean {
  for (let i = 0; i < f.length; i++) {
    const l = f[i];
    if (l === "#") return true; // also matches the parent level, as in MQTT
    if (i >= levels.length) return false;
    if (l !== "+" && l !== levels[i]) return false;
  }
  return f.length === levels.length;
}

export function filterMatches(filter: string, relTopic: string): boolean {
  return filterMatchesLevels(compileFilter(filter), relTopic.split("/"));
}

// ------------------------------------------------------------------------------------------------
// Clock

/** Monotonic time and one-shot timers; injected so keep-alive timing is tested without sleeping. */
export interface Clock {
  /** Milliseconds on a monotonic scale. */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

// ------------------------------------------------------------------------------------------------
// Live filters with lifetimes

export interface LiveFilter {
  filter: string;
  compiled: CompiledFilter;
  expires: number;
}

/**
 * The live keep-alive filters (dbus-mqtt ≥ v1.25: one lifetime per filter). ttlMs ≤ 0 means "always
 * alive" (keepalive = 0): nothing is tracked. `generation` changes whenever the set of filters does, so
 * callers can cache per-topic match results.
 */
export class KeepaliveFilters {
  private readonly live = new Map<string, LiveFilter>();
  private gen = 1;
  private all = false;

  constructor(readonly ttlMs: number) {}

  /** keepalive = 0: publish always. */
  get always(): boolean {
    return this.ttlMs <= 0;
  }

  get alive(): boolean {
    return this.always || this.live.size > 0;
  }

  /** A live `#` filter covers everything. */
  get everything(): boolean {
    return this.all;
  }

  get size(): number {
    return this.live.size;
  }

  get generation(): number {
    return this.gen;
  }

  names(): string[] {
    return [...this.live.keys()];
  }

  /**
   * (Re)arms the filters (null = everything) until now + ttl. Returns the filters that were not live
   * before: what they cover is to be published now. Refreshing a live filter publishes nothing.
   */
  arm(filters: readonly string[] | null, now: number): LiveFilter[] {
    if (this.always) return [];
    const expires = now + this.ttlMs;
    const fresh: LiveFilter[] = [];
    for (const f of filters ?? ["#"]) {
      const lf = this.live.get(f);
      if (lf) lf.expires = expires;
      else {
        const nf = { filter: f, compiled: compileFilter(f), expires };
        this.live.set(f, nf);
        fresh.push(nf);
      }
    }
    if (fresh.length) this.changed();
    return fresh;
  }

  /** Drops the filters whose lifetime has ended; returns their names. */
  expire(now: number): string[] {
    const gone: string[] = [];
    for (const [k, f] of this.live) {
      if (f.expires <= now) {
        this.live.delete(k);
        gone.push(k);
      }
    }
    if (gone.length) this.changed();
    return gone;
  }

  /** When the next filter expires (undefined: none live). */
  nextExpiry(): number | undefined {
    let next: number | undefined;
    for (const f of this.live.values()) if (next === undefined || f.expires < next) next = f.expires;
    return next;
  }

  /** Does any live filter cover the topic levels ("vebus/257/Mode" split at "/")? */
  matches(levels: readonly string[]): boolean {
    if (this.always || this.all) return true;
    for (const f of this.live.values()) if (filterMatchesLevels(f.compiled, levels)) return true;
    return false;
  }

  private changed(): void {
    this.gen++;
    this.all = this.live.has("#");
  }
}

// ------------------------------------------------------------------------------------------------
// Forced-republish limiter

/**
 * At most `perWindow` forced republishes per window (dbus-flashmq: 3/s). A window starts with the first
 * republish after a refill; requests beyond the budget are deferred (their echo tokens kept) and run as
 * one republish when the window ends.
 */
export class RepublishLimiter {
  private tokens: number;
  private windowEnd: number | undefined;
  private deferred: (string | undefined)[] | undefined;

  constructor(readonly perWindow = 3, readonly windowMs = 1000) {
    this.tokens = perWindow;
  }

  /** A republish is requested now: true = run it now; false = deferred to the end of the window. */
  request(echo: string | undefined, now: number): boolean {
    this.windowEnd ??= now + this.windowMs;
    if (this.tokens <= 0) {
      (this.deferred ??= []).push(echo);
      return false;
    }
    this.tokens--;
    return true;
  }

  /** When refill() is due (undefined: no window open). */
  nextRefill(): number | undefined {
    return this.windowEnd;
  }

  /**
   * The window ended: the budget is refilled. Returns the echoes of the deferred requests, to be served by
   * one republish now (which opens the next window), or undefined when none was deferred.
   */
  refill(now: number): (string | undefined)[] | undefined {
    if (this.windowEnd === undefined || now < this.windowEnd) return undefined;
    this.tokens = this.perWindow;
    this.windowEnd = undefined;
    const d = this.deferred;
    this.deferred = undefined;
    if (!d) return undefined;
    this.tokens--;
    this.windowEnd = now + this.windowMs;
    return d;
  }
}
