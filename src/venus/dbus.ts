// D-Bus link (dbus-next): connect by address, discover com.victronenergy.* services, track their items
// through ItemsChanged/PropertiesChanged, and call GetValue/SetValue/GetItems.
//
// Replies are matched by this module (not by dbus-next's call()) so that every call has a timeout and a
// scan's reply is applied synchronously, in arrival order relative to the service's signals.

import dbus from "dbus-next";
import type { Logger } from "../log.ts";
import { type BusConnection, createBusConnection, type DbusSignal } from "./dbus_conn.ts";
import { VenusError } from "./errors.ts";
import {
  type DbusVariant,
  deviceInstanceOf,
  isValidObjectPath,
  itemsFromGetItems,
  itemsFromRootValue,
  parseSignature,
  serviceType,
  type SigNode,
  valueFromPropertiesChanged,
  VICTRON_PREFIX,
} from "./topics.ts";

const { Message, Variant } = dbus;
type DbusMessage = InstanceType<typeof dbus.Message>;
type MessageBus = dbus.MessageBus;

export const BUS_ITEM = "com.victronenergy.BusItem";
const DBUS_NAME = "org.freedesktop.DBus";
const DBUS_PATH = "/org/freedesktop/DBus";
const MT_METHOD_CALL = 1, MT_METHOD_RETURN = 2, MT_ERROR = 3, MT_SIGNAL = 4;

// ------------------------------------------------------------------------------------------------
// Addresses

/**
 * `system` → $DBUS_SYSTEM_BUS_ADDRESS or the standard socket; `session` → $DBUS_SESSION_BUS_ADDRESS;
 * anything else is taken as a D-Bus address. `unix:abstract=X` is rewritten to `unix:socket=\0X` so that
 * dbus-next uses node:net (Deno supports abstract sockets; dbus-next's native addon does not load).
 */
export function resolveBusAddress(address: string, env: (k: string) => string | undefined): string {
  const a = address.trim();
  let out: string;
  if (a === "" || a === "system") {
    out = env("DBUS_SYSTEM_BUS_ADDRESS") || "unix:path=/var/run/dbus/system_bus_socket";
  } else if (a === "session") {
    const s = env("DBUS_SESSION_BUS_ADDRESS");
    if (!s) {
      throw new VenusError("config", `[dbus] address: "session" but DBUS_SESSION_BUS_ADDRESS is not set`);
    }
    out = s;
  } else if (/^(unix|tcp|nonce-tcp|unixexec):/.test(a)) out = a;
  else {
    throw new VenusError(
      "config",
      `[dbus] address: "${address}" is not system, session or a D-Bus address (unix:path=…, unix:abstract=…, tcp:host=…,port=…)`,
    );
  }
  return out.split(";").map((part) =>
    part.replace(/^unix:(.*)\babstract=([^,]*)/, (_m, pre, name) => `unix:${pre}socket=\0${name}`)
  ).join(";");
}

// ------------------------------------------------------------------------------------------------
// Variants: pure {signature, value} → dbus-next Variant (nested variants must be Variant instances)

function toWire(t: SigNode, x: unknown): unknown {
  switch (t.type) {
    case "v": {
      const v = x as DbusVariant;
      return toDbusVariant(v);
    }
    case "a": {
      const el = t.child[0];
      if (el.type === "{") {
        const o: Record<string, unknown> = {};
        for (const [k, val] of Object.entries(x as Record<string, unknown>)) {
          const w = toWire(el.child[1], val);
          if (k === "__proto__") {
            Object.defineProperty(o, k, { value: w, enumerable: true, writable: true, configurable: true });
          } else o[k] = w;
        }
        return o;
      }
      if (el.type === "y" && x instanceof Uint8Array) return Array.from(x);
      if (el.child.length === 0 && el.type !== "v") return x;
      return (x as unknown[]).map((e) => toWire(el, e));
    }
    case "(":
      return t.child.map((c, i) => toWire(c, (x as unknown[])[i]));
    default:
      return x;
  }
}

/** A dbus-next Variant from a {signature, value} (recursively). */
export function toDbusVariant(v: DbusVariant): InstanceType<typeof Variant> {
  const trees = parseSignature(v.signature);
  if (trees.length !== 1) {
    throw new RangeError(`variant signature must be one complete type: "${v.signature}"`);
  }
  return new Variant(v.signature, toWire(trees[0], v.value));
}

// ------------------------------------------------------------------------------------------------
// A raw bus connection with our own reply matching and timeouts

export class DbusCallError extends Error {
  constructor(public readonly errorName: string, message: string) {
    super(message);
    this.name = "DbusCallError";
  }
}

export interface CallSpec {
  destination: string;
  path: string;
  iface: string;
  member: string;
  signature?: string;
  body?: unknown[];
}

interface Pending {
  resolve: (m: DbusMessage) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
  sync?: (m: DbusMessage) => void;
}

export interface RawBusOptions {
  address: string;
  connectTimeoutMs?: number;
}

/**
 * One connection to a bus. BusItem signals arrive through the connection's fast path (dbus_conn.ts); all
 * other messages through dbus-next's MessageBus.
 */
export class RawBus {
  readonly bus: MessageBus;
  private readonly conn: BusConnection;
  private pending = new Map<number, Pending>();
  private signalListeners = new Set<(m: DbusSignal) => void>();
  private closeListeners = new Set<() => void>();
  private closedFlag = false;
  readonly closed: Promise<void>;
  private stream: { destroy(): void; end(): void; once(e: string, f: () => void): void; destroyed?: boolean };

  private constructor(address: string) {
    const authMethods = /^tcp:/.test(address) ? ["ANONYMOUS"] : ["EXTERNAL", "ANONYMOUS"];
    this.conn = createBusConnection({
      address,
      authMethods,
      fastInterface: BUS_ITEM,
      onFastSignal: (s) => this.dispatchSignal(s),
    });
    this.bus = this.conn.bus;
    this.stream = this.conn.stream;
    this.closed = new Promise<void>((resolve) => {
      const done = () => {
        if (this.closedFlag) return;
        this.closedFlag = true;
        for (const p of this.pending.values()) {
          clearTimeout(p.timer);
          p.reject(new DbusCallError("Disconnected", "D-Bus connection closed"));
        }
        this.pending.clear();
        for (const l of this.closeListeners) l();
        resolve();
      };
      this.stream.once("close", done);
      this.bus.on("error", () => {
        // stream errors end in "close"; make sure the socket is gone
        try {
          this.stream.destroy();
        } catch { /* ignore */ }
      });
    });
    this.bus.on("message", (m: DbusMessage) => this.onMessage(m));
  }

  /** Connects and completes Hello; rejects after connectTimeoutMs or when the connection fails. */
  static connect(o: RawBusOptions): Promise<RawBus> {
    const rb = new RawBus(o.address);
    const timeoutMs = o.connectTimeoutMs ?? 5000;
    return new Promise<RawBus>((resolve, reject) => {
      let lastError: unknown;
      const onError = (e: unknown) => (lastError = e);
      rb.bus.on("error", onError);
      const timer = setTimeout(() => {
        finish();
        void rb.close();
        reject(
          new Error(
            `no D-Bus connection within ${timeoutMs} ms${lastError ? ` (${errText(lastError)})` : ""}`,
          ),
        );
      }, timeoutMs);
      const onClose = () => {
        finish();
        reject(new Error(`D-Bus connection failed: ${lastError ? errText(lastError) : "closed"}`));
      };
      const onConnect = () => {
        finish();
        resolve(rb);
      };
      const finish = () => {
        clearTimeout(timer);
        rb.bus.off("error", onError);
        rb.bus.off("connect", onConnect);
        rb.closeListeners.delete(onClose);
      };
      rb.bus.once("connect", onConnect);
      rb.closeListeners.add(onClose);
    });
  }

  /** The unique name (":1.42"). */
  get uniqueName(): string {
    return (this.bus as unknown as { name: string | null }).name ?? "";
  }

  get isClosed(): boolean {
    return this.closedFlag;
  }

  onClose(l: () => void): () => void {
    this.closeListeners.add(l);
    return () => this.closeListeners.delete(l);
  }

  /** Every signal this connection receives (BusItem signals come as plain objects, others as Messages). */
  onSignal(l: (m: DbusSignal) => void): () => void {
    this.signalListeners.add(l);
    return () => this.signalListeners.delete(l);
  }

  /** Messages through the fast signal path / through dbus-next, socket reads, signal listener errors. */
  get wireStats(): { fast: number; slow: number; chunks: number; listenerErrors: number } {
    return { ...this.conn.stats };
  }

  private dispatchSignal(s: DbusSignal): void {
    for (const l of this.signalListeners) l(s);
  }

  private onMessage(m: DbusMessage): void {
    const type = m.type as number;
    if (type === MT_SIGNAL) {
      this.dispatchSignal(m);
      return;
    }
    if (type === MT_METHOD_RETURN || type === MT_ERROR) {
      const serial = m.replySerial as unknown as number;
      const p = this.pending.get(serial);
      if (!p) return;
      this.pending.delete(serial);
      clearTimeout(p.timer);
      if (type === MT_ERROR) {
        p.reject(
          new DbusCallError(m.errorName, `${m.errorName}: ${typeof m.body[0] === "string" ? m.body[0] : ""}`),
        );
        return;
      }
      if (p.sync) {
        try {
          p.sync(m);
        } catch (err) {
          p.reject(err instanceof Error ? err : new Error(String(err)));
          return;
        }
      }
      p.resolve(m);
    }
  }

  /**
   * Calls a method; rejects with DbusCallError (D-Bus error reply, "Timeout", "Disconnected").
   * `sync` runs synchronously when the reply arrives, before any later message is handled.
   */
  call(c: CallSpec, timeoutMs: number, sync?: (m: DbusMessage) => void): Promise<DbusMessage> {
    if (this.closedFlag) return Promise.reject(new DbusCallError("Disconnected", "D-Bus connection closed"));
    let msg: DbusMessage;
    try {
      msg = new Message({
        destination: c.destination,
        path: c.path,
        interface: c.iface,
        member: c.member,
        signature: c.signature ?? "",
        body: c.body ?? [],
      });
    } catch (err) {
      return Promise.reject(new DbusCallError("InvalidArgs", errText(err)));
    }
    const serial = this.bus.newSerial();
    msg.serial = serial;
    return new Promise<DbusMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(serial);
        reject(
          new DbusCallError(
            "Timeout",
            `${c.destination} ${c.path} ${c.member}: no reply within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      this.pending.set(serial, { resolve, reject, timer, sync });
      try {
        this.bus.send(msg);
      } catch (err) {
        clearTimeout(timer);
        this.pending.delete(serial);
        reject(new DbusCallError("Disconnected", errText(err)));
      }
    });
  }

  /** Sends without waiting (signals, replies). Returns false when the connection is gone. */
  send(m: DbusMessage): boolean {
    if (this.closedFlag) return false;
    try {
      this.bus.send(m);
      return true;
    } catch {
      return false;
    }
  }

  async addMatch(rule: string, timeoutMs = 5000): Promise<void> {
    await this.call(
      {
        destination: DBUS_NAME,
        path: DBUS_PATH,
        iface: DBUS_NAME,
        member: "AddMatch",
        signature: "s",
        body: [rule],
      },
      timeoutMs,
    );
  }

  async listNames(timeoutMs = 5000): Promise<string[]> {
    const r = await this.call({
      destination: DBUS_NAME,
      path: DBUS_PATH,
      iface: DBUS_NAME,
      member: "ListNames",
    }, timeoutMs);
    return r.body[0] as string[];
  }

  async getNameOwner(name: string, timeoutMs = 5000): Promise<string> {
    const r = await this.call(
      {
        destination: DBUS_NAME,
        path: DBUS_PATH,
        iface: DBUS_NAME,
        member: "GetNameOwner",
        signature: "s",
        body: [name],
      },
      timeoutMs,
    );
    return r.body[0] as string;
  }

  async requestName(name: string, flags = 4, /* DO_NOT_QUEUE */ timeoutMs = 5000): Promise<number> {
    const r = await this.call(
      {
        destination: DBUS_NAME,
        path: DBUS_PATH,
        iface: DBUS_NAME,
        member: "RequestName",
        signature: "su",
        body: [name, flags],
      },
      timeoutMs,
    );
    return r.body[0] as number;
  }

  async releaseName(name: string, timeoutMs = 5000): Promise<number> {
    const r = await this.call(
      {
        destination: DBUS_NAME,
        path: DBUS_PATH,
        iface: DBUS_NAME,
        member: "ReleaseName",
        signature: "s",
        body: [name],
      },
      timeoutMs,
    );
    return r.body[0] as number;
  }

  /** Closes the socket; resolves when it is gone. */
  async close(): Promise<void> {
    if (!this.closedFlag) {
      try {
        this.bus.disconnect();
      } catch { /* ignore */ }
      const t = setTimeout(() => {
        try {
          this.stream.destroy();
        } catch { /* ignore */ }
      }, 200);
      await this.closed;
      clearTimeout(t);
    }
    try {
      this.stream.destroy();
    } catch { /* ignore */ }
  }
}

export function errText(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

export function isMethodCall(m: DbusMessage): boolean {
  return (m.type as number) === MT_METHOD_CALL;
}

export { Message as DbusMessageClass, Variant as DbusVariantClass };
export type { DbusMessage, DbusSignal };

// ------------------------------------------------------------------------------------------------
// BusItem calls

export async function busGetValue(
  rb: RawBus,
  service: string,
  path: string,
  timeoutMs: number,
): Promise<DbusVariant> {
  const r = await rb.call({ destination: service, path, iface: BUS_ITEM, member: "GetValue" }, timeoutMs);
  const v = r.body[0];
  if (r.signature !== "v" || !v) {
    throw new DbusCallError("BadReply", `GetValue ${service} ${path}: reply signature "${r.signature}"`);
  }
  return v as DbusVariant;
}

export async function busGetText(
  rb: RawBus,
  service: string,
  path: string,
  timeoutMs: number,
): Promise<string> {
  const r = await rb.call({ destination: service, path, iface: BUS_ITEM, member: "GetText" }, timeoutMs);
  if (r.signature !== "s") {
    throw new DbusCallError("BadReply", `GetText ${service} ${path}: reply signature "${r.signature}"`);
  }
  return String(r.body[0]);
}

export async function busSetValue(
  rb: RawBus,
  service: string,
  path: string,
  v: DbusVariant,
  timeoutMs: number,
): Promise<number> {
  const r = await rb.call(
    {
      destination: service,
      path,
      iface: BUS_ITEM,
      member: "SetValue",
      signature: "v",
      body: [toDbusVariant(v)],
    },
    timeoutMs,
  );
  const rc = r.body[0];
  if (typeof rc !== "number") {
    throw new DbusCallError("BadReply", `SetValue ${service} ${path}: reply signature "${r.signature}"`);
  }
  return rc;
}

// ------------------------------------------------------------------------------------------------
// Discovery and tracking

export interface ServiceInfo {
  name: string;
  owner: string;
  type: string;
  instance: number;
  items: Map<string, DbusVariant>;
  /** How the items were obtained. */
  method: "GetItems" | "GetValue" | "Introspect";
}

export interface DbusLinkHandlers {
  /** A service finished its scan (also after a bus reconnect, with fresh items). */
  serviceAdded?(s: ServiceInfo): void;
  /** The service's name lost its owner (or the bus came back without it). */
  serviceRemoved?(s: ServiceInfo): void;
  /** A value changed (or a new path appeared) on a scanned service. */
  valueChanged?(s: ServiceInfo, path: string, v: DbusVariant): void;
  /** The bus connection went down / came back. */
  linkChanged?(up: boolean): void;
}

export interface DbusLinkOptions {
  /** `system`, `session` or a D-Bus address. */
  address: string;
  /** Per-call timeout (scan, reads, writes), default 5000 ms. */
  callTimeoutMs?: number;
  connectTimeoutMs?: number;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** Upper bound of items taken from one service by introspection (default 20000). */
  maxIntrospectItems?: number;
  env?: (k: string) => string | undefined;
}

interface ScanState {
  name: string;
  owner: string;
  token: number;
  items: Map<string, DbusVariant>;
}

export interface DbusLinkStats {
  signals: number;
  propertiesChanged: number;
  itemsChanged: number;
  calls: number;
  callErrors: number;
  timeouts: number;
  scans: number;
  skipped: number;
  reconnects: number;
}

export class DbusLink {
  handlers: DbusLinkHandlers;
  /** Scanned services by well-known name. */
  readonly services = new Map<string, ServiceInfo>();
  /** Services that failed their scan (name → reason). */
  readonly skipped = new Map<string, string>();
  readonly stats: DbusLinkStats = {
    signals: 0,
    propertiesChanged: 0,
    itemsChanged: 0,
    calls: 0,
    callErrors: 0,
    timeouts: 0,
    scans: 0,
    skipped: 0,
    reconnects: 0,
  };
  private rb?: RawBus;
  private scanning = new Map<string, ScanState>();
  /** unique name → well-known names (scanning or scanned). */
  private byOwner = new Map<string, Set<string>>();
  private tokens = 0;
  private stopped = false;
  private address: string;
  private reconnectTimer?: ReturnType<typeof setTimeout>;
  private loopDone?: Promise<void>;
  private wake?: () => void;

  constructor(private options: DbusLinkOptions, private logger: Logger, handlers: DbusLinkHandlers = {}) {
    this.handlers = handlers;
    this.address = resolveBusAddress(options.address, options.env ?? ((k) => Deno.env.get(k)));
  }

  get connected(): boolean {
    return !!this.rb && !this.rb.isClosed;
  }

  private get timeout(): number {
    return this.options.callTimeoutMs ?? 5000;
  }

  /**
   * Connects, subscribes to the signals and runs the initial discovery (bounded by the call timeout).
   * Rejects with VenusError("unreachable") when the bus can't be reached; afterwards reconnects forever.
   */
  async start(signal?: AbortSignal): Promise<void> {
    signal?.addEventListener("abort", () => void this.stop(), { once: true });
    let rb: RawBus;
    try {
      rb = await RawBus.connect({ address: this.address, connectTimeoutMs: this.options.connectTimeoutMs });
    } catch (err) {
      throw new VenusError("unreachable", `D-Bus ${this.printableAddress()} unreachable: ${errText(err)}`);
    }
    if (this.stopped) {
      await rb.close();
      return;
    }
    this.logger.info("connected to D-Bus", { address: this.printableAddress(), name: rb.uniqueName });
    await this.attach(rb);
    this.loopDone = this.superviseLoop();
  }

  async stop(): Promise<void> {
    if (this.stopped) {
      await this.loopDone;
      return;
    }
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    this.wake?.();
    const rb = this.rb;
    if (rb) await rb.close();
    await this.loopDone;
  }

  printableAddress(): string {
    return this.address.replace("\0", "@");
  }

  /** The current connection (throws when down). */
  private bus(): RawBus {
    if (!this.rb || this.rb.isClosed) throw new DbusCallError("Disconnected", "D-Bus is not connected");
    return this.rb;
  }

  private async superviseLoop(): Promise<void> {
    let delay = this.options.reconnectMinMs ?? 250;
    const maxDelay = this.options.reconnectMaxMs ?? 5000;
    while (!this.stopped) {
      const rb = this.rb;
      if (rb) await rb.closed;
      if (this.stopped) break;
      this.logger.warn("D-Bus connection lost; reconnecting", { address: this.printableAddress() });
      this.handlers.linkChanged?.(false);
      this.scanning.clear();
      this.byOwner.clear();
      // reconnect with backoff
      while (!this.stopped) {
        await new Promise<void>((r) => {
          this.wake = r;
          this.reconnectTimer = setTimeout(r, delay);
        });
        this.wake = undefined;
        if (this.stopped) break;
        try {
          const nrb = await RawBus.connect({
            address: this.address,
            connectTimeoutMs: this.options.connectTimeoutMs,
          });
          if (this.stopped) {
            await nrb.close();
            break;
          }
          this.stats.reconnects++;
          this.logger.info("reconnected to D-Bus", {
            address: this.printableAddress(),
            name: nrb.uniqueName,
          });
          delay = this.options.reconnectMinMs ?? 250;
          await this.attach(nrb);
          this.handlers.linkChanged?.(true);
          break;
        } catch (err) {
          this.logger.debug("D-Bus reconnect failed", { error: errText(err) });
          delay = Math.min(maxDelay, delay * 2);
        }
      }
    }
  }

  private async attach(rb: RawBus): Promise<void> {
    this.rb = rb;
    rb.onSignal((m) => this.onSignal(m));
    try {
      await rb.addMatch(
        `type='signal',sender='${DBUS_NAME}',interface='${DBUS_NAME}',member='NameOwnerChanged',arg0namespace='com.victronenergy'`,
        this.timeout,
      );
      await rb.addMatch(`type='signal',interface='${BUS_ITEM}',member='PropertiesChanged'`, this.timeout);
      await rb.addMatch(`type='signal',interface='${BUS_ITEM}',member='ItemsChanged',path='/'`, this.timeout);
      const names = (await rb.listNames(this.timeout)).filter((n) =>
        n.startsWith(VICTRON_PREFIX) && serviceType(n)
      );
      // Services we knew before a reconnect that are gone now.
      for (const [name, s] of [...this.services]) {
        if (!names.includes(name)) this.removeService(name, s);
      }
      await Promise.all(names.map(async (name) => {
        let owner: string;
        try {
          owner = await rb.getNameOwner(name, this.timeout);
        } catch (err) {
          this.logger.debug("service vanished before it could be scanned", {
            service: name,
            error: errText(err),
          });
          return;
        }
        await this.scan(name, owner);
      }));
    } catch (err) {
      this.logger.warn("D-Bus discovery failed", { error: errText(err) });
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Signals

  private onSignal(m: DbusSignal): void {
    this.stats.signals++;
    if (m.interface === BUS_ITEM) {
      const names = this.byOwner.get(m.sender);
      if (!names) return;
      if (m.member === "PropertiesChanged") {
        this.stats.propertiesChanged++;
        const v = valueFromPropertiesChanged(m.body[0]);
        if (!v || m.path === "/") return;
        for (const name of names) this.apply(name, m.path, v);
      } else if (m.member === "ItemsChanged" && m.path === "/") {
        this.stats.itemsChanged++;
        const r = itemsFromGetItems(m.body[0]);
        if (!r.ok) return;
        for (const name of names) for (const [p, v] of r.value) this.apply(name, p, v);
      }
      return;
    }
    if (m.member === "NameOwnerChanged" && m.sender === DBUS_NAME && m.interface === DBUS_NAME) {
      const [name, oldOwner, newOwner] = m.body as [string, string, string];
      if (!name.startsWith(VICTRON_PREFIX) || !serviceType(name)) return;
      if (oldOwner) {
        const s = this.services.get(name);
        if (s) this.removeService(name, s);
        const sc = this.scanning.get(name);
        if (sc) {
          this.scanning.delete(name);
          this.unmapOwner(sc.owner, name);
        }
        this.skipped.delete(name);
      }
      if (newOwner) void this.scan(name, newOwner);
    }
  }

  private apply(name: string, path: string, v: DbusVariant): void {
    const s = this.services.get(name);
    if (s) {
      s.items.set(path, v);
      if (path === "/DeviceInstance") s.instance = deviceInstanceOf(v);
      this.handlers.valueChanged?.(s, path, v);
      return;
    }
    const sc = this.scanning.get(name);
    if (sc) sc.items.set(path, v);
  }

  private mapOwner(owner: string, name: string) {
    let set = this.byOwner.get(owner);
    if (!set) this.byOwner.set(owner, set = new Set());
    set.add(name);
  }

  private unmapOwner(owner: string, name: string) {
    const set = this.byOwner.get(owner);
    if (!set) return;
    set.delete(name);
    if (set.size === 0) this.byOwner.delete(owner);
  }

  private removeService(name: string, s: ServiceInfo) {
    this.services.delete(name);
    this.unmapOwner(s.owner, name);
    this.logger.info("service gone", { service: name });
    this.handlers.serviceRemoved?.(s);
  }

  // ---------------------------------------------------------------------------------------------
  // Scanning

  /** Scans one service: GetItems on /, else GetValue on /, else introspection. Never throws. */
  private async scan(name: string, owner: string): Promise<void> {
    const type = serviceType(name);
    if (!type) return;
    const token = ++this.tokens;
    const st: ScanState = { name, owner, token, items: new Map() };
    const old = this.scanning.get(name);
    if (old) this.unmapOwner(old.owner, name);
    this.scanning.set(name, st);
    this.mapOwner(owner, name);
    this.stats.scans++;
    const current = () => this.scanning.get(name)?.token === token && !this.stopped;
    let method: ServiceInfo["method"] = "GetItems";
    try {
      const rb = this.bus();
      let ok = false;
      try {
        await rb.call(
          { destination: owner, path: "/", iface: BUS_ITEM, member: "GetItems" },
          this.timeout,
          (reply) => {
            const r = itemsFromGetItems(reply.body[0]);
            if (!r.ok) throw new DbusCallError("BadReply", r.error);
            for (const [p, v] of r.value) st.items.set(p, v);
          },
        );
        ok = true;
      } catch (err) {
        if (
          err instanceof DbusCallError && (err.errorName === "Timeout" || err.errorName === "Disconnected")
        ) throw err;
        this.logger.debug("GetItems failed; trying GetValue on /", { service: name, error: errText(err) });
      }
      if (!ok && current()) {
        method = "GetValue";
        try {
          await rb.call(
            { destination: owner, path: "/", iface: BUS_ITEM, member: "GetValue" },
            this.timeout,
            (reply) => {
              const r = itemsFromRootValue(reply.body[0]);
              if (!r.ok) throw new DbusCallError("BadReply", r.error);
              for (const [p, v] of r.value) st.items.set(p, v);
            },
          );
          ok = true;
        } catch (err) {
          if (
            err instanceof DbusCallError && (err.errorName === "Timeout" || err.errorName === "Disconnected")
          ) throw err;
          this.logger.debug("GetValue on / failed; introspecting", { service: name, error: errText(err) });
        }
      }
      if (!ok && current()) {
        method = "Introspect";
        await this.introspectScan(rb, owner, st, current);
      }
      if (!current()) return;
      if (st.items.size === 0) throw new DbusCallError("NoItems", "the service exports no BusItem values");
      this.scanning.delete(name);
      const info: ServiceInfo = {
        name,
        owner,
        type,
        instance: deviceInstanceOf(st.items.get("/DeviceInstance")),
        items: st.items,
        method,
      };
      this.services.set(name, info);
      this.skipped.delete(name);
      this.logger.debug("service scanned", {
        service: name,
        instance: info.instance,
        items: info.items.size,
        method,
      });
      this.handlers.serviceAdded?.(info);
    } catch (err) {
      if (!current()) return;
      this.scanning.delete(name);
      this.unmapOwner(owner, name);
      if (err instanceof DbusCallError && err.errorName === "Disconnected") return;
      if (err instanceof DbusCallError && err.errorName === "Timeout") this.stats.timeouts++;
      this.stats.skipped++;
      this.skipped.set(name, errText(err));
      this.logger.warn("skipping misbehaving D-Bus service", { service: name, error: errText(err) });
    }
  }

  private async introspectScan(
    rb: RawBus,
    owner: string,
    st: ScanState,
    current: () => boolean,
  ): Promise<void> {
    const max = this.options.maxIntrospectItems ?? 20000;
    const leaves: string[] = [];
    const queue: string[] = ["/"];
    let visited = 0;
    while (queue.length && current()) {
      const batch = queue.splice(0, 16);
      await Promise.all(batch.map(async (path) => {
        if (++visited > max) return;
        const r = await rb.call(
          { destination: owner, path, iface: "org.freedesktop.DBus.Introspectable", member: "Introspect" },
          this.timeout,
        );
        const xml = String(r.body[0] ?? "");
        if (path !== "/" && xml.includes(`interface name="${BUS_ITEM}"`)) leaves.push(path);
        for (const m of xml.matchAll(/<node\s+name="([^"]+)"/g)) {
          const child = (path === "/" ? "" : path) + "/" + m[1];
          if (isValidObjectPath(child)) queue.push(child);
        }
      }));
    }
    for (let i = 0; i < leaves.length && current(); i += 32) {
      await Promise.all(
        leaves.slice(i, i + 32).map(async (p) => {
          try {
            await rb.call(
              { destination: owner, path: p, iface: BUS_ITEM, member: "GetValue" },
              this.timeout,
              (reply) => {
                if (reply.signature === "v") st.items.set(p, reply.body[0] as DbusVariant);
              },
            );
          } catch (err) {
            if (
              err instanceof DbusCallError &&
              (err.errorName === "Timeout" || err.errorName === "Disconnected")
            ) throw err;
          }
        }),
      );
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Calls for the bridge and one-shot commands

  private counted<T>(p: Promise<T>): Promise<T> {
    this.stats.calls++;
    return p.catch((err) => {
      this.stats.callErrors++;
      if (err instanceof DbusCallError && err.errorName === "Timeout") this.stats.timeouts++;
      throw err;
    });
  }

  getValue(service: string, path: string): Promise<DbusVariant> {
    return this.counted(Promise.resolve().then(() => busGetValue(this.bus(), service, path, this.timeout)));
  }

  getText(service: string, path: string): Promise<string> {
    return this.counted(Promise.resolve().then(() => busGetText(this.bus(), service, path, this.timeout)));
  }

  setValue(service: string, path: string, v: DbusVariant): Promise<number> {
    return this.counted(
      Promise.resolve().then(() => busSetValue(this.bus(), service, path, v, this.timeout)),
    );
  }

  listNames(): Promise<string[]> {
    return this.counted(Promise.resolve().then(() => this.bus().listNames(this.timeout)));
  }
}
