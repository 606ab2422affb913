// Publishes a bridge's Home Assistant discovery configs (retained, QoS 1) when asked — the bridges call
// announce() on every MQTT connect — and again whenever Home Assistant says `online` on
// <discovery_prefix>/status (its birth message after a restart), as zigbee2mqtt does. One implementation
// for both bridges; each bridge has its own announcer with its own messages.
//
// Switching discovery_mode leaves the other form's retained configs behind (an older ess2mqtt published
// one config per entity). Those leftovers of this device are migrated the way Home Assistant documents:
// `{"migrate_discovery": true}` on each leftover topic, then the configs in the current form, then an
// empty retained payload on the leftover topics. The entities keep their ids and history.

import type { Logger } from "../log.ts";
import type { MqttLink, MqttMessage } from "../mqtt/client.ts";
import type { DiscoveryMessage, DiscoveryMode } from "../mqtt/ha_discovery.ts";

export interface HaAnnouncerOptions {
  mqtt: Pick<MqttLink, "publish" | "subscribe">;
  discoveryPrefix: string;
  /** The device id of the configs (topic level), and the form they are published in. */
  deviceId: string;
  mode: DiscoveryMode;
  /** The messages to publish, computed at each announcement. */
  messages: () => DiscoveryMessage[];
  logger: Logger;
  /** How long leftovers may keep arriving before they are migrated together (ms, default 300). */
  settleMs?: number;
}

const MIGRATE_PAYLOAD = '{"migrate_discovery":true}';

const decoder = new TextDecoder();

function isMigrateMarker(text: string): boolean {
  try {
    return (JSON.parse(text) as { migrate_discovery?: unknown })?.migrate_discovery === true;
  } catch {
    return false;
  }
}

export class HaAnnouncer {
  private stopped = false;
  private started = false;
  private leftovers = new Set<string>();
  private settleTimer?: ReturnType<typeof setTimeout>;
  /** Announcements made, leftover configs migrated (tests, stats). */
  readonly stats = { announcements: 0, migrated: 0 };

  constructor(private readonly o: HaAnnouncerOptions) {}

  /** The topic Home Assistant publishes its birth and last-will messages on. */
  get statusTopic(): string {
    return `${this.o.discoveryPrefix}/status`;
  }

  /** The topics where the other form of this device's configs would be. */
  get leftoverFilter(): string {
    const { discoveryPrefix: dp, deviceId: id } = this.o;
    return this.o.mode === "device" ? `${dp}/+/${id}/+/config` : `${dp}/device/${id}/config`;
  }

  /** Listens for Home Assistant's `online` and for leftover configs of the other form. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.o.mqtt.subscribe(this.statusTopic, (m) => {
      if (this.stopped) return;
      const text = decoder.decode(m.payload).trim().toLowerCase();
      if (text !== "online") return;
      this.o.logger.info("Home Assistant is online: announcing discovery again", { topic: m.topic });
      this.announce();
    });
    this.o.mqtt.subscribe(this.leftoverFilter, (m) => this.onLeftover(m));
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.settleTimer);
  }

  /** Publishes every message now (retained). Never throws. */
  announce(): void {
    if (this.stopped) return;
    let msgs: DiscoveryMessage[];
    try {
      msgs = this.o.messages();
    } catch (err) {
      this.o.logger.error("cannot build the discovery messages", { error: err });
      return;
    }
    for (const m of msgs) this.o.mqtt.publish(m.topic, m.payload, { retain: true, qos: 1 });
    this.stats.announcements++;
    this.o.logger.debug("discovery announced", { messages: msgs.length });
  }

  private onLeftover(m: MqttMessage): void {
    if (this.stopped || !m.retain) return;
    const text = decoder.decode(m.payload);
    if (text.trim() === "" || isMigrateMarker(text)) return;
    this.leftovers.add(m.topic);
    clearTimeout(this.settleTimer);
    this.settleTimer = setTimeout(() => this.migrate(), this.o.settleMs ?? 300);
  }

  private migrate(): void {
    this.settleTimer = undefined;
    if (this.stopped) return;
    const topics = [...this.leftovers];
    this.leftovers.clear();
    for (const t of topics) this.o.mqtt.publish(t, MIGRATE_PAYLOAD, { retain: true, qos: 1 });
    this.announce();
    for (const t of topics) this.o.mqtt.publish(t, "", { retain: true, qos: 1 });
    this.stats.migrated += topics.length;
    this.o.logger.info("migrated discovery configs left by the other discovery_mode", {
      mode: this.o.mode,
      topics: topics.length,
    });
  }
}
