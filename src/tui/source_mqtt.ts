// --via mqtt: the console follows the bridges' topics on the broker (<prefix>/#, N/#), sends register
// operations through the MQTT register transport (cmd/… topics, src/bridges/mqtt_register_transport.ts),
// D-Bus writes and reads as W/… and R/… and keeps the Venus keep-alive going for what the D-Bus pane shows.

import type { Config, InverterConfig } from "../config.ts";
import { inverterLayout, mqttLinkOptions } from "../app.ts";
import { type TopicLayout, topicLayout } from "../lxp/topics.ts";
import type { Logger } from "../log.ts";
import { MqttLink } from "../mqtt/client.ts";
import { redactUri } from "../mqtt/topic.ts";
import { MqttRegisterTransport } from "../bridges/mqtt_register_transport.ts";
import type { RegisterTransport } from "../lxp/transport.ts";
import { type InverterTopics, mqttEvents, type TuiEvent } from "./state.ts";
import { quietLinkLogger, type TuiSource } from "./source.ts";

export interface MqttSourceOptions {
  config: Config;
  /** The inverter whose topics to follow (several [lxp.NAME]: the chosen one). */
  inverter?: InverterConfig;
  /** Overrides the broker URI (tests). */
  uri?: string;
  /** How often the link state is checked and the keep-alive refreshed (ms). */
  pollMs?: number;
  keepaliveMs?: number;
}

export class MqttSource implements TuiSource {
  readonly via = "mqtt" as const;
  readonly where: string;
  readonly prefix: string;
  private readonly layout: TopicLayout;
  private readonly topics: InverterTopics;
  registers?: RegisterTransport;
  private link: MqttLink;
  private emit: (ev: TuiEvent) => void = () => {};
  private portal?: string;
  private filters: string[] = [];
  private sentFilters = "";
  private timers: ReturnType<typeof setInterval>[] = [];
  private lastKeepalive = 0;
  private lastProblem: () => string | undefined;

  constructor(private o: MqttSourceOptions, private logger: Logger) {
    const opts = mqttLinkOptions(o.config.mqtt, { clientIdSuffix: "_tui", uri: o.uri });
    this.where = redactUri(opts.uri) + (o.inverter?.name ? ` · ${o.inverter.name}` : "");
    this.layout = o.inverter
      ? inverterLayout(o.config, o.inverter)
      : topicLayout({ layout: "octolux", prefix: o.config.mqtt.prefix, datalog: "" });
    const base = this.layout.state("inverter").slice(0, -"/inverter".length);
    this.topics = { base, status: this.layout.status, name: o.inverter?.name || undefined };
    this.prefix = base;
    const quiet = quietLinkLogger(logger.child({ component: "mqtt" }));
    this.lastProblem = quiet.lastProblem;
    this.link = new MqttLink(opts, quiet.logger);
  }

  async start(emit: (ev: TuiEvent) => void): Promise<void> {
    this.emit = emit;
    const onMessage = (topic: string, payload: Uint8Array) => {
      for (const ev of mqttEvents(this.topics, topic, payload)) {
        if (ev.kind === "portal" && ev.portal !== this.portal) {
          this.portal = ev.portal;
          this.sendKeepalive(true);
        }
        emit(ev);
      }
    };
    this.link.subscribe(`${this.topics.base}/#`, (m) => onMessage(m.topic, m.payload));
    if (!this.topics.status.startsWith(`${this.topics.base}/`)) {
      this.link.subscribe(this.topics.status, (m) => onMessage(m.topic, m.payload));
    }
    this.link.subscribe("N/#", (m) => onMessage(m.topic, m.payload));
    await this.link.start();
    emit({ kind: "link", link: "broker", up: true });
    const timeoutMs = (this.o.config.lxp?.command_timeout ?? 10) * 1000;
    this.registers = await MqttRegisterTransport.open({
      link: mqttLinkOptions(this.o.config.mqtt, { clientIdSuffix: "_tui_cmd", uri: this.o.uri }),
      layout: this.layout,
      timeoutMs,
    }, quietLinkLogger(this.logger.child({ component: "mqtt_cmd" })).logger);
    let up = true;
    this.timers.push(setInterval(() => {
      if (this.link.connected !== up) {
        up = this.link.connected;
        emit({ kind: "link", link: "broker", up, detail: up ? undefined : this.lastProblem() });
        if (up) this.sendKeepalive(true);
      }
      if (Date.now() - this.lastKeepalive >= (this.o.keepaliveMs ?? 25_000)) this.sendKeepalive(true);
    }, this.o.pollMs ?? 500));
  }

  /** R/<portal>/keepalive with the filters of what is shown; sent again when they change or periodically. */
  private sendKeepalive(force: boolean) {
    if (!this.portal || !this.link.connected) return;
    const payload = this.filters.length === 1 && this.filters[0] === "#" ? "" : JSON.stringify(this.filters);
    if (!force && payload === this.sentFilters) return;
    this.sentFilters = payload;
    this.lastKeepalive = Date.now();
    this.link.publish(`R/${this.portal}/keepalive`, payload);
  }

  setKeepalive(filters: string[]): void {
    this.filters = filters;
    this.sendKeepalive(false);
  }

  async requestInputs(): Promise<void> {
    if (!this.registers) throw new Error("not connected");
    for (const block of [1, 2, 3] as const) await this.registers.readInputBlock(block);
  }

  private topic(kind: "W" | "R", service: string, path: string): string {
    if (!this.portal) throw new Error("no portal id seen yet (is the Venus bridge running?)");
    return `${kind}/${this.portal}/${service}${path}`;
  }

  async dbusWrite(service: string, path: string, json: unknown): Promise<void> {
    await this.link.publishAsync(this.topic("W", service, path), JSON.stringify({ value: json }), { qos: 1 });
  }

  async dbusRead(service: string, path: string): Promise<void> {
    await this.link.publishAsync(this.topic("R", service, path), "", { qos: 1 });
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    await this.registers?.close();
    await this.link.stop();
  }
}
