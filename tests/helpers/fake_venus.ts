// In-process stand-ins for the Venus bridge's edges: a D-Bus link (VenusLink) whose services the test
// adds, changes and removes, and an MQTT link that records every publish and lets the test deliver
// requests. Used with FakeClock to test keep-alive timing without sleeping.

import type { MqttMessage } from "../../src/mqtt/client.ts";
import type { VenusMqtt } from "../../src/bridges/venus_bridge.ts";
import type { DbusLinkHandlers, DbusLinkStats, ServiceInfo, VenusLink } from "../../src/venus/link.ts";
import { deviceInstanceOf, serviceType } from "../../src/venus/topics.ts";
import type { DbusVariant } from "../../src/venus/variant.ts";
import { topicMatches } from "../../src/mqtt/topic.ts";

export class FakeVenusLink implements VenusLink {
  handlers: DbusLinkHandlers = {};
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
  readonly services = new Map<string, ServiceInfo>();
  /** SetValue calls: [service, path, variant]. */
  readonly writes: [string, string, DbusVariant][] = [];
  /** SetValue's return code. */
  setValueRc = 0;
  private started = false;

  /** Adds a service (announced at once when started, else by start()). */
  add(name: string, items: Record<string, DbusVariant>): ServiceInfo {
    const m = new Map(Object.entries(items));
    const info: ServiceInfo = {
      name,
      owner: `:1.${this.services.size + 100}`,
      type: serviceType(name)!,
      instance: deviceInstanceOf(m.get("/DeviceInstance")),
      items: m,
      method: "GetItems",
    };
    this.services.set(name, info);
    if (this.started) this.handlers.serviceAdded?.(info);
    return info;
  }

  /** The service's bus name lost its owner. */
  remove(name: string): void {
    const s = this.services.get(name);
    if (!s) throw new Error(`no service ${name}`);
    this.services.delete(name);
    this.handlers.serviceRemoved?.(s);
  }

  /** A PropertiesChanged of one item. */
  change(name: string, path: string, v: DbusVariant): void {
    const s = this.services.get(name);
    if (!s) throw new Error(`no service ${name}`);
    s.items.set(path, v);
    if (path === "/DeviceInstance") s.instance = deviceInstanceOf(v);
    this.handlers.valueChanged?.(s, path, v);
  }

  start(): Promise<void> {
    this.started = true;
    for (const s of this.services.values()) this.handlers.serviceAdded?.(s);
    return Promise.resolve();
  }

  stop(): Promise<void> {
    this.started = false;
    return Promise.resolve();
  }

  getValue(service: string, path: string): Promise<DbusVariant> {
    this.stats.calls++;
    const v = this.services.get(service)?.items.get(path);
    return v ? Promise.resolve(v) : Promise.reject(new Error(`UnknownObject: ${service} ${path}`));
  }

  /** Texts given with setText, else the value as text. */
  readonly texts = new Map<string, string>();
  getText(service: string, path: string): Promise<string> {
    this.stats.calls++;
    const text = this.texts.get(`${service} ${path}`);
    if (text !== undefined) return Promise.resolve(text);
    const v = this.services.get(service)?.items.get(path);
    return v
      ? Promise.resolve(String(v.value))
      : Promise.reject(new Error(`UnknownObject: ${service} ${path}`));
  }

  setValue(service: string, path: string, v: DbusVariant): Promise<number> {
    this.stats.calls++;
    this.writes.push([service, path, v]);
    return Promise.resolve(this.setValueRc);
  }
}

export interface Published {
  topic: string;
  payload: string;
  retain: boolean;
}

export class FakeMqtt implements VenusMqtt {
  connected = true;
  readonly published: Published[] = [];
  private subs: { filter: string; handler: (m: MqttMessage) => void }[] = [];
  private connectListeners = new Set<() => void>();

  publishFast(topic: string | Uint8Array, payload: string, retain: boolean, topicText?: string): void {
    const t = typeof topic === "string" ? topic : (topicText ?? new TextDecoder().decode(topic));
    this.published.push({ topic: t, payload, retain });
  }

  publish(topic: string, payload: string | Uint8Array, opts: { retain?: boolean } = {}): void {
    const text = typeof payload === "string" ? payload : new TextDecoder().decode(payload);
    this.published.push({ topic, payload: text, retain: opts.retain ?? false });
  }

  subscribe(filter: string, handler: (m: MqttMessage) => void): void {
    this.subs.push({ filter, handler });
  }

  subscribeAsync(filter: string, handler: (m: MqttMessage) => void): Promise<void> {
    this.subs.push({ filter, handler });
    return Promise.resolve();
  }

  onConnect(cb: () => void): () => void {
    this.connectListeners.add(cb);
    return () => this.connectListeners.delete(cb);
  }

  /** A message from the broker to the bridge's subscriptions. */
  deliver(topic: string, payload: string, retain = false): void {
    const m: MqttMessage = { topic, payload: new TextEncoder().encode(payload), retain };
    for (const s of this.subs) if (topicMatches(s.filter, topic)) s.handler(m);
  }

  /** The payloads published on `topic`, in order. */
  payloads(topic: string): string[] {
    return this.published.filter((p) => p.topic === topic).map((p) => p.payload);
  }

  last(topic: string): Published | undefined {
    return this.published.findLast((p) => p.topic === topic);
  }

  /** Forget what was published so far (the test looks at what comes next). */
  clear(): void {
    this.published.length = 0;
  }
}
