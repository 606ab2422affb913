// Service discovery and tracking on top of the raw bus (bus.ts): discover com.victronenergy.* services,
// scan them (GetItems → GetValue / → Introspect), track them through NameOwnerChanged, ItemsChanged and
// PropertiesChanged, and offer GetValue/SetValue/GetText to the bridge and the one-shot commands.
// `VenusLink` is the part the bridge uses; DbusLink implements it (tests use a fake).

import type { Logger } from "../log.ts";
import {
  BUS_ITEM,
  busGetText,
  busGetValue,
  busSetValue,
  DBUS_NAME,
  DbusCallError,
  type DbusSignal,
  RawBus,
  resolveBusAddress,
} from "./bus.ts";
import { errText, VenusError } from "./errors.ts";
import { deviceInstanceOf, serviceType, VICTRON_PREFIX } from "./topics.ts";
import {
  type DbusVariant,
  isValidObjectPath,
  itemsFromGetItems,
  itemsFromRootValue,
  valueFromPropertiesChanged,
} from "./variant.ts";

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

/** What the Venus bridge needs from a D-Bus link (DbusLink; a fake in the in-process tests). */
export interface VenusLink {
  /** Set by the bridge before start(). */
  handlers: DbusLinkHandlers;
  readonly stats: DbusLinkStats;
  /** Connects and runs the initial discovery (serviceAdded for every service) before it resolves. */
  start(signal?: AbortSignal): Promise<void>;
  stop(): Promise<void>;
  getValue(service: string, path: string): Promise<DbusVariant>;
  /** The item's text form (units included), e.g. "48.6 V". */
  getText(service: string, path: string): Promise<string>;
  setValue(service: string, path: string, v: DbusVariant): Promise<number>;
}

export class DbusLink implements VenusLink {
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
      // One way of reading every item at once; false when the service doesn't answer it (timeouts and a
      // lost bus end the scan).
      const readAll = async (
        member: "GetItems" | "GetValue",
        items: (body: unknown) => ReturnType<typeof itemsFromGetItems>,
        fallback: string,
      ): Promise<boolean> => {
        try {
          await rb.call({ destination: owner, path: "/", iface: BUS_ITEM, member }, this.timeout, (reply) => {
            const r = items(reply.body[0]);
            if (!r.ok) throw new DbusCallError("BadReply", r.error);
            for (const [p, v] of r.value) st.items.set(p, v);
          });
          return true;
        } catch (err) {
          if (
            err instanceof DbusCallError && (err.errorName === "Timeout" || err.errorName === "Disconnected")
          ) throw err;
          this.logger.debug(`${member} on / failed; ${fallback}`, { service: name, error: errText(err) });
          return false;
        }
      };
      let ok = await readAll("GetItems", itemsFromGetItems, "trying GetValue on /");
      if (!ok && current()) {
        method = "GetValue";
        ok = await readAll("GetValue", itemsFromRootValue, "introspecting");
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

/**
 * The bus name of a service by its type ("vebus": the first such name) or by type and device instance
 * ("battery", 512: the one whose /DeviceInstance is 512; a service without one counts as 0, spec §1).
 * Undefined when there is none. For one-shot commands; the bridge tracks services with DbusLink.
 */
export async function findServiceName(
  rb: RawBus,
  type: string,
  instance: number | undefined,
  timeoutMs: number,
): Promise<string | undefined> {
  const names = (await rb.listNames(timeoutMs)).filter((n) => serviceType(n) === type).sort();
  if (instance === undefined) return names[0];
  for (const n of names) {
    let v: DbusVariant | undefined;
    try {
      v = await busGetValue(rb, n, "/DeviceInstance", timeoutMs);
    } catch {
      v = undefined;
    }
    if (deviceInstanceOf(v) === instance) return n;
  }
  return undefined;
}
