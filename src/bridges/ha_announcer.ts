// Publishes a bridge's Home Assistant discovery configs (retained, QoS 1) when asked — the bridges call
// announce() on every MQTT connect — and again whenever Home Assistant says `online` on
// <discovery_prefix>/status (its birth message after a restart), as zigbee2mqtt does. One implementation
// for both bridges; each bridge has its own announcer with its own messages.

import type { Logger } from "../log.ts";
import type { MqttLink } from "../mqtt/client.ts";
import type { DiscoveryMessage } from "../mqtt/ha_discovery.ts";

export interface HaAnnouncerOptions {
  mqtt: Pick<MqttLink, "publish" | "subscribe">;
  discoveryPrefix: string;
  /** The messages to publish, computed at each announcement. */
  messages: () => DiscoveryMessage[];
  logger: Logger;
}

const decoder = new TextDecoder();

export class HaAnnouncer {
  private stopped = false;
  private started = false;
  /** Announcements made (tests, stats). */
  announcements = 0;

  constructor(private readonly o: HaAnnouncerOptions) {}

  /** The topic Home Assistant publishes its birth and last-will messages on. */
  get statusTopic(): string {
    return `${this.o.discoveryPrefix}/status`;
  }

  /** Listens for Home Assistant's `online`. */
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
  }

  stop(): void {
    this.stopped = true;
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
    this.announcements++;
    this.o.logger.debug("discovery announced", { messages: msgs.length });
  }
}
