import { Option } from "@commander-js/extra-typings";
import type { CliContext, ProgramWithGlobals } from "./main.ts";
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import type { StartedEmbeddedBroker } from "../mqtt/broker.ts";

export interface Running {
  /** The broker URL the bridges publish to. */
  brokerUrl: string;
  stop(): Promise<void>;
}

/**
 * Starts everything `serve` runs for a config: the embedded broker when no [mqtt] uri is set, one MQTT
 * link, the LuxPower bridge when [lxp] is present and the Venus bridge when [dbus] is present.
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
      const { startEmbeddedBroker } = await import("../mqtt/broker.ts");
      local = await startEmbeddedBroker(config.mqtt, logger.child({ component: "broker" }));
      uri = local.url;
      stops.push(local.stop);
    }
    const prefix = config.mqtt.prefix;
    const { MqttLink } = await import("../mqtt/client.ts");
    const clientId = config.mqtt.client_id || `ess2mqtt_${crypto.randomUUID().slice(0, 8)}`;
    local?.broker.retainAsPublished(clientId); // a retained command delivered live keeps its flag
    const mqtt = new MqttLink({
      uri,
      clientId,
      username: local ? local.username : config.mqtt.username || undefined,
      password: local ? local.password : config.mqtt.password || undefined,
      ca: config.mqtt.ca || undefined,
      cert: config.mqtt.cert || undefined,
      key: config.mqtt.key || undefined,
      rejectUnauthorized: local ? local.rejectUnauthorized : config.mqtt.reject_unauthorized,
      will: { topic: `${prefix}/status`, payload: "offline", retain: true, qos: 1 },
    }, logger.child({ component: "mqtt" }));
    stops.push(() => mqtt.stop());
    await mqtt.start();
    mqtt.publish(`${prefix}/status`, "online", { retain: true, qos: 1 });

    if (config.lxp) {
      const lxp = config.lxp;
      const { LxpClient } = await import("../lxp/client.ts");
      const { LxpBridge } = await import("../bridges/lxp_bridge.ts");
      const client = new LxpClient({
        host: lxp.host,
        port: lxp.port,
        datalog: lxp.datalog,
        serial: lxp.serial,
        connectTimeoutMs: lxp.connect_timeout * 1000,
        requestTimeoutMs: Math.min(lxp.command_timeout, 5) * 1000,
        silenceTimeoutMs: lxp.silence_timeout * 1000,
        heartbeatEcho: lxp.heartbeats,
      }, logger);
      const bridge = new LxpBridge({
        prefix,
        commandTimeoutMs: lxp.command_timeout * 1000,
        discovery: config.mqtt.discovery
          ? { discoveryPrefix: config.mqtt.discovery_prefix, datalog: lxp.datalog, serial: lxp.serial }
          : undefined,
        inverter: client,
        mqtt,
        logger: logger.child({ component: "lxp_bridge" }),
      });
      stops.push(() => client.stop());
      stops.push(() => bridge.stop());
      client.start(signal);
      bridge.start();
    }
    if (config.dbus) {
      const { VenusBridge } = await import("../bridges/venus_bridge.ts");
      const venus = new VenusBridge({
        config: config.dbus,
        mqtt,
        logger: logger.child({ component: "venus" }),
      });
      stops.push(() => venus.stop());
      await venus.start(signal);
    }
    if (!config.lxp && !config.dbus) {
      logger.warn("no [lxp] or [dbus] section configured: only the MQTT side is running");
    }
    return { brokerUrl: uri, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

function waitForAbort(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((r) => signal.addEventListener("abort", () => r(), { once: true }));
}

export function registerServeCommands(program: ProgramWithGlobals, ctx: CliContext): void {
  program
    .command("serve")
    .description(
      "run the bridges: LuxPower ⇄ MQTT ([lxp]) and Victron D-Bus ⇄ MQTT ([dbus]); embedded broker when [mqtt] uri is empty",
    )
    .action(async () => {
      const config = await ctx.loadConfig();
      const logger = ctx.logger();
      const running = await startServices(config, logger, ctx.signal);
      logger.info("serving; Ctrl+C to stop", { broker: running.brokerUrl.replace(/\/\/[^@]*@/, "//***@") });
      await waitForAbort(ctx.signal);
      logger.info("stopping", { signal: ctx.interruptedBy });
      await running.stop();
    });

  program
    .command("tui")
    .description(
      "interactive dashboard of inputs 1–3, holding registers and the D-Bus tree (from the broker of the config)",
    )
    .action(async () => {
      const { runTui } = await import("../tui/run.tsx");
      await runTui(ctx);
    });

  program
    .command("demo")
    .description(
      "run everything without hardware: inverter simulator, Venus simulator, embedded broker and serve",
    )
    .addOption(new Option("--port <port>", "embedded broker port (0 = any free port)").default("1883"))
    .addOption(new Option("--interval <seconds>", "simulated inverter broadcast interval").default("10"))
    .option("--no-venus", "skip the Venus D-Bus simulator")
    .action(async (opts) => {
      const { runDemo } = await import("./demo.ts");
      await runDemo(ctx, { port: opts.port, interval: opts.interval, venus: opts.venus });
    });
}
