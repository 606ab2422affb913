// Venus D-Bus ⇄ MQTT with the dbus-mqtt contract:
//  N/<portal>/<type>/<instance>/<path> {"value": x} retained, while the keep-alive is alive;
//  W/… → SetValue (never from a retained message; return code checked; [dbus] read_only refuses);
//  R/… → GetValue → N/… (non-retained reply); R/<portal>/keepalive with filters and fmq options;
//  device gone → empty retained payloads; keep-alive expiry → empty retained payloads (except Serial).
// No batching: every change is published when it arrives.

import type { DbusConfig } from "../config.ts";
import type { Logger } from "../log.ts";
import type { MqttLink, MqttMessage } from "../mqtt/client.ts";
import { errText } from "../venus/errors.ts";
import {
  type Clock,
  filterMatchesLevels,
  KeepaliveFilters,
  type KeepaliveRequest,
  type LiveFilter,
  parseKeepalivePayload,
  RepublishLimiter,
} from "../venus/keepalive.ts";
import { DbusLink, type DbusLinkStats, type ServiceInfo, type VenusLink } from "../venus/link.ts";
import {
  decodeWritePayload,
  encodeFullPublishCompleted,
  encodeValuePayload,
  encodeVariantPayload,
  isBlockedItem,
  notificationTopic,
  parseRequestTopic,
  relativeTopic,
} from "../venus/topics.ts";
import type { HaAnnouncer } from "./ha_announcer.ts";
import { venusAnnouncer, type VenusDiscoveryConfig } from "./venus_ha.ts";
import { type DbusVariant, jsonToVariant, variantToJson } from "../venus/variant.ts";

/** The part of MqttLink the bridge uses. */
export type VenusMqtt = Pick<
  MqttLink,
  "connected" | "publishFast" | "subscribeAsync" | "onConnect" | "publish" | "subscribe"
>;

/** The real clock (tests inject a fake one). */
const realClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as number),
};

export interface VenusBridgeOptions {
  config: DbusConfig;
  mqtt: VenusMqtt;
  logger: Logger;
  /** The D-Bus link; default a DbusLink on config.address. */
  link?: VenusLink;
  /** Time and timers of the keep-alive (tests: a fake clock); default the real one. */
  clock?: Clock;
  /** Keep-alive lifetime override in ms (tests); default config.keepalive seconds (fractions allowed). */
  keepaliveMs?: number;
  /** Per-call D-Bus timeout (default 5000 ms). */
  callTimeoutMs?: number;
  /** MAC lookup for the portal id fallback (tests). */
  macAddress?: () => string | undefined;
  env?: (k: string) => string | undefined;
  /** Home Assistant sensors for these `<type>/<instance>/<path>` items, which stay published. */
  discovery?: VenusDiscoveryConfig;
}

interface Item {
  path: string;
  topic: string;
  rel: string;
  levels?: string[];
  /** Last encoded payload, "" before the first value. */
  payload: string;
  /** A retained value of ours is on the broker. */
  published: boolean;
  /** Cached filter match (valid while matchGen === bridge.filterGen). */
  matchGen: number;
  matched: boolean;
  serial: boolean;
}

interface Svc {
  info: ServiceInfo;
  key: string; // "<type>/<instance>"
  items: Map<string, Item>;
}

export interface VenusBridgeStats {
  services: number;
  items: number;
  published: number;
  cleared: number;
  changes: number;
  reads: number;
  writes: number;
  writesRejected: number;
  writesRefused: number;
  requestErrors: number;
  keepalives: number;
  fullPublishes: number;
  lastFullPublishMs: number;
  alive: boolean;
  filters: string[];
  dbus: DbusLinkStats;
}

const enc = new TextDecoder();

/** The first non-loopback interface's MAC, lower-case hex without separators. */
function machineMac(): string | undefined {
  try {
    const ifs = Deno.networkInterfaces()
      .filter((i) => i.name !== "lo" && i.mac && i.mac !== "00:00:00:00:00:00")
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    if (ifs.length) return ifs[0].mac.replaceAll(":", "").toLowerCase();
  } catch { /* no --allow-sys: try /sys */ }
  try {
    const names = [...Deno.readDirSync("/sys/class/net")].map((e) => e.name).filter((n) => n !== "lo").sort();
    for (const n of names) {
      const mac = Deno.readTextFileSync(`/sys/class/net/${n}/address`).trim();
      if (mac && mac !== "00:00:00:00:00:00") return mac.replaceAll(":", "").toLowerCase();
    }
  } catch { /* nothing */ }
  return undefined;
}

export class VenusBridge {
  readonly link: VenusLink;
  portalId = "";
  private readonly mqtt: VenusMqtt;
  private readonly logger: Logger;
  private readonly config: DbusConfig;
  private readonly clock: Clock;
  private readonly filters: KeepaliveFilters;
  private readonly svcs = new Map<string, Svc>();
  private readonly byKey = new Map<string, Svc>();
  private expiryTimer?: unknown;
  private pendingClears = new Set<string>();
  private started = false;
  private stopped = false;
  private offConnect?: () => void;
  /** Items announced to Home Assistant: kept published, as by a keep-alive that never lapses. */
  private readonly pinned: Set<string>;
  announcer?: HaAnnouncer;
  // forced republish rate limit (3/s, like dbus-flashmq)
  private readonly republish = new RepublishLimiter(3, 1000);
  private republishTimer?: unknown;
  private counters = {
    published: 0,
    cleared: 0,
    changes: 0,
    reads: 0,
    writes: 0,
    writesRejected: 0,
    writesRefused: 0,
    requestErrors: 0,
    keepalives: 0,
    fullPublishes: 0,
    lastFullPublishMs: 0,
  };

  constructor(private o: VenusBridgeOptions) {
    this.mqtt = o.mqtt;
    this.logger = o.logger;
    this.config = o.config;
    this.pinned = new Set(o.discovery?.paths ?? []);
    this.clock = o.clock ?? realClock;
    this.filters = new KeepaliveFilters(o.keepaliveMs ?? Math.round(o.config.keepalive * 1000));
    this.link = o.link ??
      new DbusLink(
        { address: o.config.address, callTimeoutMs: o.callTimeoutMs, env: o.env },
        o.logger.child({ component: "dbus" }),
      );
    this.link.handlers = {
      serviceAdded: (s) => this.onServiceAdded(s),
      serviceRemoved: (s) => this.onServiceRemoved(s),
      valueChanged: (s, p, v) => this.onValue(s, p, v),
      linkChanged: (up) => this.logger.info(up ? "D-Bus link up" : "D-Bus link down"),
    };
  }

  /** keepalive = 0: publish always. */
  private get always(): boolean {
    return this.filters.always;
  }

  get alive(): boolean {
    return this.filters.alive;
  }

  get stats(): VenusBridgeStats {
    let items = 0;
    for (const s of this.svcs.values()) items += s.items.size;
    return {
      ...this.counters,
      services: this.svcs.size,
      items,
      alive: this.alive,
      filters: this.filters.names(),
      dbus: { ...this.link.stats },
    };
  }

  /** The known services and their current values (for the TUI / one-shots). */
  snapshot(): { name: string; type: string; instance: number; items: { path: string; value: unknown }[] }[] {
    return [...this.svcs.values()].map((s) => ({
      name: s.info.name,
      type: s.info.type,
      instance: s.info.instance,
      items: [...s.items.values()].map((it) => ({
        path: it.path,
        value: it.payload ? JSON.parse(it.payload).value : null,
      })),
    }));
  }

  /**
   * Connects to D-Bus (initial discovery included), settles the portal id, subscribes R/<portal>/# and
   * W/<portal>/#, and publishes the markers. Rejects with VenusError("unreachable") when the bus can't be reached.
   */
  async start(signal?: AbortSignal): Promise<void> {
    if (this.started) return;
    this.started = true;
    signal?.addEventListener("abort", () => void this.stop(), { once: true });
    await this.link.start();
    if (this.stopped) return;
    this.portalId = this.resolvePortalId();
    this.logger.info("Venus bridge running", {
      portal: this.portalId,
      services: this.svcs.size,
      keepalive: this.always ? "off (always publish)" : `${this.filters.ttlMs / 1000} s`,
      read_only: this.config.read_only,
    });
    // Items were built before the portal id was known: build their topics now.
    for (const s of this.svcs.values()) this.buildItems(s);
    if (this.o.discovery) { // Home Assistant discovery (./venus_ha.ts)
      this.announcer = await venusAnnouncer({
        ...this.o.discovery,
        portal: this.portalId,
        mqtt: this.mqtt,
        logger: this.logger,
        serviceName: (key) => this.byKey.get(key)?.info.name,
        getText: (service, path) => this.link.getText(service, path),
      });
      this.announcer?.start();
    }
    // Resolve only once the broker has the subscriptions: a request sent after start() is never lost.
    await Promise.all([
      this.mqtt.subscribeAsync(`R/${this.portalId}/#`, (m) => this.handleMessage(m)),
      this.mqtt.subscribeAsync(`W/${this.portalId}/#`, (m) => this.handleMessage(m)),
    ]);
    this.offConnect = this.mqtt.onConnect(() => this.onMqttConnect());
    if (this.mqtt.connected) this.onMqttConnect();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.expiryTimer !== undefined) this.clock.clearTimeout(this.expiryTimer);
    if (this.republishTimer !== undefined) this.clock.clearTimeout(this.republishTimer);
    this.offConnect?.();
    this.announcer?.stop();
    await this.link.stop();
  }

  private resolvePortalId(): string {
    if (this.config.portal_id) return this.config.portal_id;
    const sys = this.svcs.get("com.victronenergy.system");
    const serial = sys?.info.items.get("/Serial");
    const j = serial ? variantToJson(serial) : null;
    if (typeof j === "string" && /^[A-Za-z0-9_-]+$/.test(j)) return j;
    const mac = (this.o.macAddress ?? machineMac)();
    if (mac) {
      this.logger.info("no com.victronenergy.system /Serial: using the machine's MAC as portal id", {
        portal: mac,
      });
      return mac;
    }
    this.logger.warn("no portal id: set [dbus] portal_id; using 000000000000");
    return "000000000000";
  }

  // ---------------------------------------------------------------------------------------------
  // Items and publishing

  private buildItems(s: Svc): void {
    const { type, instance } = s.info;
    s.key = `${type}/${instance}`;
    for (const it of s.items.values()) this.setItemTopic(it, type, instance);
  }

  private setItemTopic(it: Item, type: string, instance: number) {
    it.topic = notificationTopic(this.portalId, type, instance, it.path);
    it.rel = relativeTopic(type, instance, it.path);
    it.levels = undefined;
    it.matchGen = 0;
    it.serial = type === "system" && instance === 0 && it.path === "/Serial";
  }

  private newItem(s: Svc, path: string): Item {
    const it: Item = {
      path,
      topic: "",
      rel: "",
      payload: "",
      published: false,
      matchGen: 0,
      matched: false,
      serial: false,
    };
    this.setItemTopic(it, s.info.type, s.info.instance);
    s.items.set(path, it);
    return it;
  }

  /** Is the item covered by a live keep-alive filter? */
  private wanted(it: Item): boolean {
    const f = this.filters;
    if (it.serial || f.always || f.everything || this.pinned.has(it.rel)) return true;
    if (f.size === 0) return false;
    if (it.matchGen !== f.generation) {
      it.matched = f.matches(it.levels ??= it.rel.split("/"));
      it.matchGen = f.generation;
    }
    return it.matched;
  }

  private publishItem(it: Item): void {
    if (!it.payload || !this.portalId) return;
    this.pendingClears.delete(it.topic);
    if (!this.mqtt.connected) {
      it.published = true; // sent by the republish on connect
      return;
    }
    this.send(it, it.payload);
    it.published = true;
    this.counters.published++;
  }

  /** Every publish of the bridge goes through here (one ordered path). */
  private out(topic: string, payload: string, o: { retain: boolean }): void {
    this.mqtt.publishFast(topic, payload, o.retain);
  }

  private send(it: Item, payload: string): void {
    this.mqtt.publishFast(it.topic, payload, true);
  }

  private clearTopic(topic: string): void {
    this.counters.cleared++;
    if (!this.mqtt.connected) {
      this.pendingClears.add(topic);
      return;
    }
    this.out(topic, "", { retain: true });
  }

  private onMqttConnect(): void {
    if (this.stopped || !this.portalId) return;
    const t0 = performance.now();
    this.out(`N/${this.portalId}/keepalive`, encodeValuePayload(1), { retain: true });
    this.announcer?.announce();
    for (const topic of this.pendingClears) this.out(topic, "", { retain: true });
    this.pendingClears.clear();
    // Serial: always there (the system service's value, else the portal id).
    const sys = this.byKey.get("system/0");
    const serialItem = sys?.items.get("/Serial");
    if (!serialItem?.payload) {
      this.out(`N/${this.portalId}/system/0/Serial`, encodeValuePayload(this.portalId), { retain: true });
    }
    // Everything alive (the broker may have lost its retained messages).
    let n = 0;
    for (const s of this.svcs.values()) {
      for (const it of s.items.values()) {
        if (this.wanted(it) && it.payload) {
          this.send(it, it.payload);
          it.published = true;
          n++;
        }
      }
    }
    this.counters.published += n;
    if (n) {
      this.logger.debug("republished after MQTT connect", {
        topics: n,
        ms: Math.round(performance.now() - t0),
      });
    }
  }

  // ---------------------------------------------------------------------------------------------
  // D-Bus events

  private onServiceAdded(info: ServiceInfo): void {
    const old = this.svcs.get(info.name);
    if (old && old.key !== `${info.type}/${info.instance}`) this.dropService(old, true);
    let s = this.svcs.get(info.name);
    if (!s) {
      s = { info, key: `${info.type}/${info.instance}`, items: new Map() };
      this.svcs.set(info.name, s);
      const clash = this.byKey.get(s.key);
      if (clash && clash !== s) {
        this.logger.warn("two services with the same type and instance; the newer one wins", {
          key: s.key,
          old: clash.info.name,
          new: info.name,
        });
      }
      this.byKey.set(s.key, s);
    } else {
      s.info = info;
      // Paths that vanished (a rescan after a bus reconnect).
      for (const [p, it] of s.items) {
        if (!info.items.has(p)) {
          s.items.delete(p);
          if (it.published) this.clearTopic(it.topic);
        }
      }
    }
    for (const [p, v] of info.items) this.updateItem(s, p, v);
  }

  private onServiceRemoved(info: ServiceInfo): void {
    const s = this.svcs.get(info.name);
    if (s) this.dropService(s, true);
  }

  /** Forget a service; its topics get empty retained payloads (all of them, alive or not, like dbus-mqtt). */
  private dropService(s: Svc, clear: boolean): void {
    this.svcs.delete(s.info.name);
    if (this.byKey.get(s.key) === s) this.byKey.delete(s.key);
    if (!clear || !this.portalId) return;
    for (const it of s.items.values()) {
      if (it.serial) continue;
      this.clearTopic(it.topic);
      it.published = false;
    }
    this.logger.info("device gone: topics cleared", { service: s.info.name, topics: s.items.size });
  }

  private onValue(info: ServiceInfo, path: string, v: DbusVariant): void {
    const s = this.svcs.get(info.name);
    if (!s) return;
    if (path === "/DeviceInstance" && s.key !== `${info.type}/${info.instance}`) {
      // The device was given another instance: its topics move.
      this.dropService(s, true);
      this.onServiceAdded(info);
      return;
    }
    this.counters.changes++;
    this.updateItem(s, path, v);
  }

  private updateItem(s: Svc, path: string, v: DbusVariant): void {
    let it = s.items.get(path);
    if (!it) {
      if (isBlockedItem(s.info.type, path)) return; // never published (spec §1 "Blocked")
      it = this.newItem(s, path);
    }
    const payload = encodeVariantPayload(v);
    if (payload === it.payload) return; // unchanged (e.g. PropertiesChanged and ItemsChanged for one change)
    it.payload = payload;
    if (this.portalId && this.wanted(it)) this.publishItem(it);
  }

  // ---------------------------------------------------------------------------------------------
  // Requests from MQTT

  /** Handles one message on R/<portal>/# or W/<portal>/# (public for tests). */
  handleMessage(m: MqttMessage): void {
    if (this.stopped) return;
    const req = parseRequestTopic(m.topic, this.portalId);
    if (req.kind === "foreign") return;
    if (req.kind === "invalid") {
      this.counters.requestErrors++;
      this.logger.warn("ignoring request", { topic: m.topic, reason: req.reason });
      return;
    }
    if (req.kind === "write" && m.payload.length === 0) {
      // Clearing a retained W/ topic (an empty retained publish) is not a write request.
      this.logger.debug("empty write payload (a retained W/ topic cleared): ignored", { topic: m.topic });
      return;
    }
    if (m.retain) {
      this.counters.requestErrors++;
      this.logger.warn(
        req.kind === "write"
          ? "retained write request NOT executed (publish writes without the retain flag)"
          : "retained request ignored (publish requests without the retain flag)",
        { topic: m.topic, payload: enc.decode(m.payload).slice(0, 200) },
      );
      return;
    }
    if (req.kind === "keepalive") {
      this.onKeepalive(enc.decode(m.payload));
      return;
    }
    // Any other read or write request for our portal re-arms the (full) keep-alive.
    this.arm({ filters: null, options: false, suppressRepublish: false, unknownOptions: [] });
    if (req.kind === "read") void this.read(req.type, req.instance, req.path, m.topic);
    else void this.write(req.type, req.instance, req.path, m.topic, enc.decode(m.payload));
  }

  private serviceFor(type: string, instance: number, topic: string): Svc | undefined {
    const s = this.byKey.get(`${type}/${instance}`);
    if (!s) {
      this.counters.requestErrors++;
      this.logger.warn("request for an unknown device", { topic, device: `${type}/${instance}` });
    }
    return s;
  }

  private async read(type: string, instance: number, path: string, topic: string): Promise<void> {
    this.counters.reads++;
    const s = this.serviceFor(type, instance, topic);
    if (!s) return;
    if (isBlockedItem(type, path)) {
      this.counters.requestErrors++;
      this.logger.warn("read request for a blocked item ignored", { topic });
      return;
    }
    try {
      const v = await this.link.getValue(s.info.name, path);
      if (this.stopped) return;
      const payload = encodeVariantPayload(v);
      const nTopic = notificationTopic(this.portalId, type, instance, path);
      const it = s.items.get(path);
      if (it && it.serial) {
        it.payload = payload;
        this.publishItem(it);
      } else this.out(nTopic, payload, { retain: false });
      this.counters.published++;
    } catch (err) {
      this.counters.requestErrors++;
      this.logger.warn("read request failed", { topic, service: s.info.name, path, error: errText(err) });
    }
  }

  private async write(
    type: string,
    instance: number,
    path: string,
    topic: string,
    text: string,
  ): Promise<void> {
    if (this.config.read_only) {
      this.counters.writesRefused++;
      this.logger.warn("write refused: [dbus] read_only = true", { topic, payload: text.slice(0, 200) });
      return;
    }
    const dec = decodeWritePayload(text);
    if (!dec.ok) {
      this.counters.requestErrors++;
      this.logger.warn("bad write request", { topic, error: dec.error });
      return;
    }
    const s = this.serviceFor(type, instance, topic);
    if (!s) return;
    this.counters.writes++;
    try {
      const rc = await this.link.setValue(s.info.name, path, jsonToVariant(dec.value));
      if (rc !== 0) {
        this.counters.writesRejected++;
        this.logger.warn("write rejected by the device", {
          topic,
          service: s.info.name,
          path,
          value: dec.value,
          code: rc,
        });
      } else this.logger.debug("write done", { service: s.info.name, path, value: dec.value });
    } catch (err) {
      this.counters.writesRejected++;
      this.logger.warn("write failed", { topic, service: s.info.name, path, error: errText(err) });
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Keep-alive

  private onKeepalive(text: string): void {
    const r = parseKeepalivePayload(text);
    if (!r.ok) {
      this.counters.requestErrors++;
      this.logger.warn("bad keep-alive payload; ignored", { error: r.error });
      return;
    }
    for (const u of r.value.unknownOptions) {
      this.logger.warn("unknown keep-alive option ignored", { option: u });
    }
    this.arm(r.value);
  }

  private arm(req: KeepaliveRequest): void {
    this.counters.keepalives++;
    if (this.always) {
      // Nothing to arm; still honour an explicit republish request.
      if (req.options && !req.suppressRepublish) this.forcedRepublish(req.echo);
      return;
    }
    const fresh = this.filters.arm(req.filters, this.clock.now());
    this.scheduleExpiry();
    if (req.options && !req.suppressRepublish) {
      this.forcedRepublish(req.echo);
      return;
    }
    if (fresh.length) this.publishFiltered(fresh, req.echo);
  }

  /** Publish what the fresh filters newly cover, then full_publish_completed. */
  private publishFiltered(fresh: LiveFilter[], echo?: string): void {
    const t0 = performance.now();
    let n = 0;
    const all = fresh.some((f) => f.filter === "#");
    for (const s of this.svcs.values()) {
      for (const it of s.items.values()) {
        if (it.published || !it.payload) continue;
        let m = all;
        if (!m) {
          const levels = it.levels ??= it.rel.split("/");
          for (const f of fresh) if ((m = filterMatchesLevels(f.compiled, levels))) break;
        }
        if (m) {
          this.publishItem(it);
          n++;
        }
      }
    }
    this.finishFullPublish(t0, n, echo, all ? "keep-alive" : "selective keep-alive");
  }

  private finishFullPublish(t0: number, n: number, echo: string | undefined, why: string) {
    this.counters.fullPublishes++;
    this.counters.lastFullPublishMs = performance.now() - t0;
    this.out(
      `N/${this.portalId}/full_publish_completed`,
      encodeFullPublishCompleted(Math.floor(Date.now() / 1000), echo),
      { retain: false },
    );
    this.logger.debug("full publish", {
      why,
      topics: n,
      ms: Math.round(this.counters.lastFullPublishMs * 10) / 10,
    });
  }

  /** Republish everything wanted (fmq style: every options keep-alive without suppress-republish), ≤ 3/s. */
  private forcedRepublish(echo?: string): void {
    const now = this.clock.now();
    const run = this.republish.request(echo, now);
    this.scheduleRefill();
    if (run) this.doRepublish([echo]);
  }

  private doRepublish(echoes: (string | undefined)[]) {
    const t0 = performance.now();
    let n = 0;
    for (const s of this.svcs.values()) {
      for (const it of s.items.values()) {
        if (it.payload && this.wanted(it)) {
          this.publishItem(it);
          n++;
        }
      }
    }
    for (const e of new Set(echoes)) this.finishFullPublish(t0, n, e, "republish request");
  }

  private scheduleRefill() {
    if (this.republishTimer !== undefined || this.stopped) return;
    const at = this.republish.nextRefill();
    if (at === undefined) return;
    this.republishTimer = this.clock.setTimeout(() => {
      this.republishTimer = undefined;
      if (this.stopped) return;
      const deferred = this.republish.refill(this.clock.now());
      if (deferred) this.doRepublish(deferred);
      this.scheduleRefill();
    }, Math.max(0, at - this.clock.now()));
  }

  private scheduleExpiry(): void {
    if (this.expiryTimer !== undefined) this.clock.clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    const next = this.filters.nextExpiry();
    if (next === undefined || this.stopped) return;
    this.expiryTimer = this.clock.setTimeout(() => this.expire(), Math.max(0, next - this.clock.now()) + 1);
  }

  private expire(): void {
    this.expiryTimer = undefined;
    const gone = this.filters.expire(this.clock.now());
    if (gone.length) {
      let n = 0;
      for (const s of this.svcs.values()) {
        for (const it of s.items.values()) {
          if (it.published && !this.wanted(it)) {
            this.clearTopic(it.topic);
            it.published = false;
            n++;
          }
        }
      }
      this.logger.info(
        this.filters.size ? "keep-alive filter expired" : "keep-alive expired: notifications stopped",
        { filters: gone, cleared: n },
      );
    }
    this.scheduleExpiry();
  }
}
