// The composition root: a validated Config → the links and bridges of `serve`, started and stopped in
// order, and the one place that turns the config into MQTT connection options and broker addresses.
// The CLI, the demo and the TUI build on it. Heavy modules (mqtt.js, aedes, dbus-next) are imported
// only when a service that needs them starts, so one-shot commands don't pay for them.

import type { Config, InverterConfig, MqttConfig } from "./config.ts";
import { splitDiscoveryPaths } from "./config_select.ts";
import { type TopicLayout, topicLayout } from "./lxp/topics.ts";
import type { Logger } from "./log.ts";
import type { MqttLinkOptions } from "./mqtt/client.ts";
import type { LxpClientOptions } from "./lxp/client.ts";
import { embeddedClientOptions } from "./mqtt/embedded.ts";
import type { StartedEmbeddedBroker } from "./mqtt/broker.ts";

export interface LinkPurpose {
  /** Overrides the broker URI (the embedded broker's actual address, or a --broker flag). */
  uri?: string;
  /** Appended to [mqtt] client_id so a CLI or TUI connection does not kick the bridge's session off. */
  clientIdSuffix?: string;
  will?: MqttLinkOptions["will"];
  connectTimeoutMs?: number;
  reconnectPeriodMs?: number;
}

/**
 * MQTT connection options (URI, credentials, TLS files, client id) from the [mqtt] section: the broker of
 * [mqtt] uri, or — without one — serve's embedded broker, with the listen credentials (its TLS certificate
 * is this machine's own and not verified). An explicit `purpose.uri` (--broker) uses the client keys.
 */
export function mqttLinkOptions(mqtt: MqttConfig, purpose: LinkPurpose = {}): MqttLinkOptions {
  const local = mqtt.uri || purpose.uri ? undefined : embeddedClientOptions(mqtt);
  const opts: MqttLinkOptions = {
    uri: purpose.uri ?? local?.uri ?? mqtt.uri,
    clientId: mqtt.client_id ? `${mqtt.client_id}${purpose.clientIdSuffix ?? ""}` : undefined,
    username: local ? local.username : mqtt.username || undefined,
    password: local ? local.password : mqtt.password || undefined,
    ca: mqtt.ca || undefined,
    cert: mqtt.cert || undefined,
    key: mqtt.key || undefined,
    rejectUnauthorized: local ? local.rejectUnauthorized : mqtt.reject_unauthorized,
  };
  if (purpose.will) opts.will = purpose.will;
  if (purpose.connectTimeoutMs !== undefined) opts.connectTimeoutMs = purpose.connectTimeoutMs;
  if (purpose.reconnectPeriodMs !== undefined) opts.reconnectPeriodMs = purpose.reconnectPeriodMs;
  return opts;
}

export interface Running {
  /** The broker URL the bridges publish to. */
  brokerUrl: string;
  stop(): Promise<void>;
}

/**
 * Starts everything `serve` runs for a config, in order: the embedded broker when no [mqtt] uri is set,
 * one MQTT link, the LuxPower bridge when [lxp] is present and the Venus bridge when [dbus] is present.
 * Stops what it started, in reverse order, when a later step fails.
 */
export async function startServices(config: Config, logger: Logger, signal: AbortSignal): Promise<Running> {
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const s of stops.reverse()) {
      try {
        await s();
      } catch (err) {
        logger.error("error while stopping", { error: err });
      }
    }
  };
  try {
    let uri = config.mqtt.uri;
    let local: StartedEmbeddedBroker | undefined;
    if (!uri) {
      const { startEmbeddedBroker } = await import("./mqtt/broker.ts");
      local = await startEmbeddedBroker(config.mqtt, logger.child({ component: "broker" }));
      uri = local.url;
      stops.push(local.stop);
    }
    const prefix = config.mqtt.prefix;
    const layouts = config.inverters.map((inv) => inverterLayout(config, inv));
    const statusTopic = layouts[0]?.status ?? `${prefix}/status`;
    const { MqttLink } = await import("./mqtt/client.ts");
    const options = mqttLinkOptions(config.mqtt, {
      will: { topic: statusTopic, payload: "offline", retain: true, qos: 1 },
    });
    if (local) {
      options.uri = uri; // the port actually bound (listen = …:0 picks one)
      // The embedded broker speaks MQTT 3.1.1: it hands this client a retained command delivered live with
      // its retain flag, as mosquitto's retain-as-published does, so the bridges refuse it the same way.
      options.clientId ??= `ess2mqtt_${crypto.randomUUID().slice(0, 8)}`;
      local.broker.retainAsPublished(options.clientId);
    }
    const mqtt = new MqttLink(options, logger.child({ component: "mqtt" }));
    stops.push(() => mqtt.stop());
    await mqtt.start();
    // With inverters the LuxPower bridges own the availability document (they fold in the dongle links).
    if (config.inverters.length === 0) mqtt.publish(statusTopic, "online", { retain: true, qos: 1 });
    // One inverter: its bridge publishes online / inverter_offline / offline itself. Several: one JSON
    // document. lxp-bridge topics: lxp-bridge's plain LWT (online while serve runs).
    const form = config.mqtt.topics === "lxp-bridge"
      ? "bridge"
      : config.inverters.some((inv) => inv.name)
      ? "document"
      : undefined;
    const availability = form
      ? new (await import("./bridges/lxp_bridge.ts")).InverterAvailability(mqtt, statusTopic, form)
      : undefined;

    // One LxpClient + LxpBridge per inverter, all on the one MQTT link.
    for (const [i, lxp] of config.inverters.entries()) {
      const log = lxp.name ? logger.child({ inverter: lxp.name }) : logger;
      const { LxpClient } = await import("./lxp/client.ts");
      const { LxpBridge } = await import("./bridges/lxp_bridge.ts");
      const client = new LxpClient(lxpClientOptions(lxp), log);
      const bridge = new LxpBridge({
        prefix,
        layout: layouts[i],
        datalog: lxp.datalog,
        commandTimeoutMs: lxp.command_timeout * 1000,
        discovery: config.mqtt.discovery
          ? {
            discoveryPrefix: config.mqtt.discovery_prefix,
            datalog: lxp.datalog,
            serial: lxp.serial,
            mode: config.mqtt.discovery_mode,
            name: lxp.name || undefined,
          }
          : undefined,
        poll: {
          readIntervalMs: lxp.read_interval * 1000,
          holdingsOnConnect: lxp.read_holdings_on_connect,
        },
        availability: availability?.sink(lxp.name || lxp.datalog),
        inverter: client,
        mqtt,
        logger: log.child({ component: "lxp_bridge" }),
      });
      stops.push(() => client.stop());
      stops.push(() => bridge.stop());
      client.start(signal);
      bridge.start();
      if (lxp.time_sync === "daily") {
        const { ClockSync } = await import("./lxp/clock_sync.ts");
        const { lxpClientTransport } = await import("./lxp/transport.ts");
        const clockSync = new ClockSync({
          port: lxpClientTransport(client, () => Promise.resolve()),
          link: client,
          thresholdS: lxp.time_sync_threshold,
          logger: logger.child({ component: "time_sync" }),
        });
        stops.push(() => clockSync.stop());
        clockSync.start();
      }
    }
    if (config.dbus) {
      const { VenusBridge } = await import("./bridges/venus_bridge.ts");
      const venus = new VenusBridge({
        config: config.dbus,
        discovery: config.mqtt.discovery
          ? {
            discoveryPrefix: config.mqtt.discovery_prefix,
            prefix,
            mode: config.mqtt.discovery_mode,
            paths: splitDiscoveryPaths(config.dbus.discovery_paths ?? ""),
          }
          : undefined,
        mqtt,
        logger: logger.child({ component: "venus" }),
      });
      stops.push(() => venus.stop());
      await venus.start(signal);
    }
    if (!config.inverters.length && !config.dbus) {
      logger.warn("no [lxp] or [dbus] section configured: only the MQTT side is running");
    }
    return { brokerUrl: uri, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** The topic layout of one inverter: [mqtt] topics and prefix, the inverter's name and datalog. */
export function inverterLayout(config: Config, inverter: InverterConfig): TopicLayout {
  return topicLayout({
    layout: config.mqtt.topics,
    prefix: config.mqtt.prefix,
    name: inverter.name,
    datalog: inverter.datalog,
  });
}

/** The long-running link to one dongle (serve, the TUI's direct mode): reconnects, watchdog, retries. */
export function lxpClientOptions(lxp: InverterConfig): LxpClientOptions {
  return {
    host: lxp.host,
    port: lxp.port,
    datalog: lxp.datalog,
    serial: lxp.serial,
    connectTimeoutMs: lxp.connect_timeout * 1000,
    // half the command's time at most, so a write whose echo is lost can still be read back
    requestTimeoutMs: Math.min(lxp.command_timeout / 2, 5) * 1000,
    silenceTimeoutMs: lxp.silence_timeout * 1000,
    heartbeatEcho: lxp.heartbeats,
  };
}

/** Resolves when `signal` aborts (at once when it already has). */
export function waitForAbort(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
}
