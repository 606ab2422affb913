// The raw bus: one connection (dbus-next, with our own reply matching, timeouts and a fast signal path),
// D-Bus address resolution, variants for the wire and the BusItem calls (GetValue, GetText, SetValue).
//
// Replies are matched by this module (not by dbus-next's call()) so that every call has a timeout and a
// scan's reply is applied synchronously, in arrival order relative to the service's signals.

import dbus from "dbus-next";
import { type BusConnection, createBusConnection, type DbusSignal } from "./dbus_conn.ts";
import { errText, VenusError } from "./errors.ts";
import { type DbusVariant, dictEntries, parseSignature, type SigNode } from "./variant.ts";

const { Message, Variant } = dbus;
type DbusMessage = InstanceType<typeof dbus.Message>;
type MessageBus = dbus.MessageBus;

export const BUS_ITEM = "com.victronenergy.BusItem";
export const DBUS_NAME = "org.freedesktop.DBus";
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
        // dbus-next marshals a dictionary from a plain object (decoded [key, value] pairs become one)
        for (const [k, val] of dictEntries(x) ?? []) {
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
