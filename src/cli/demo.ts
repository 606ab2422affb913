// `ess2mqtt demo`: everything without hardware — an inverter simulator, a Venus D-Bus simulator on a
// private bus (when dbus-daemon is installed), the embedded broker, and the bridges of `serve`.

import type { CliContext } from "./context.ts";
import { parseConfig } from "../config.ts";
import { ExitCode, exitCodeFor } from "./errors.ts";
import { parseInteger } from "./args.ts";
import { startServices, waitForAbort } from "../app.ts";
import { InverterSimulator } from "../sim/inverter.ts";

export interface DemoOptions {
  port: string;
  interval: string;
  venus: boolean;
}

export async function runDemo(ctx: CliContext, opts: DemoOptions): Promise<void> {
  const port = parseInteger("--port", opts.port, 0, 65535);
  const interval = parseInteger("--interval", opts.interval, 1, 3600);
  const logger = ctx.logger();
  const datalog = "BA12345678";
  const serial = "0123456789";
  const stops: (() => Promise<void>)[] = [];
  try {
    const sim = new InverterSimulator({ port: 0, datalog, serial, interval }, logger);
    const simPort = (await sim.start()).port;
    stops.push(() => sim.stop());

    let dbusAddress: string | undefined;
    if (opts.venus) {
      try {
        const { startVenusDemo } = await import("../sim/venus_demo.ts");
        const venus = await startVenusDemo(logger);
        dbusAddress = venus.address;
        stops.push(() => venus.stop());
      } catch (err) {
        logger.warn("Venus simulator not started (is dbus-daemon installed?)", { error: err });
      }
    }

    // The demo's configuration, validated like any config file (defaults come from the one schema).
    // Only the embedded broker's credentials come from the environment (ESS2MQTT_MQTT_LISTEN_USERNAME/_PASSWORD).
    const env = Object.fromEntries(
      Object.entries(Deno.env.toObject()).filter(([k]) =>
        /^ESS2MQTT_MQTT_LISTEN_(USERNAME|PASSWORD)$/.test(k)
      ),
    );
    const config = parseConfig({
      fileName: "demo",
      env,
      text: [
        "[mqtt]",
        `listen = 127.0.0.1:${port}`,
        "discovery = true",
        "[lxp]",
        "host = 127.0.0.1",
        `port = ${simPort}`,
        `serial = ${serial}`,
        `datalog = ${datalog}`,
        ...(dbusAddress ? ["[dbus]", `address = "${dbusAddress}"`, "keepalive = 0"] : []),
      ].join("\n"),
    });
    let running;
    try {
      running = await startServices(config, logger, ctx.signal);
    } catch (err) {
      if (!(exitCodeFor(err) === ExitCode.brokerUnreachable && port !== 0)) throw err;
      logger.warn(`port ${port} is taken; using any free port instead`);
      config.mqtt.listen = "127.0.0.1:0";
      running = await startServices(config, logger, ctx.signal);
    }
    stops.push(() => running.stop());
    const url = new URL(running.brokerUrl);
    const user = config.mqtt.listen_username;
    const hp = `-h ${url.hostname} -p ${url.port}` +
      (user ? ` -u ${user} -P "$ESS2MQTT_MQTT_LISTEN_PASSWORD"` : "");
    const tuiIni = `[mqtt]\\nuri = ${running.brokerUrl}\\n` + (user ? `username = ${user}\\n` : "");
    const tuiEnv = user ? `ESS2MQTT_MQTT_PASSWORD="$ESS2MQTT_MQTT_LISTEN_PASSWORD" ` : "";
    ctx.print(
      [
        `ess2mqtt demo running — embedded MQTT broker at ${running.brokerUrl}`,
        `  inverter simulator on 127.0.0.1:${simPort} (datalog ${datalog}, serial ${serial}), inputs every ${interval} s`,
        dbusAddress ? `  Venus simulator on ${dbusAddress}` : "  Venus simulator: off",
        "Try, in another terminal:",
        `  mosquitto_sub ${hp} -v -t 'octolux/#' -t 'N/#'`,
        `  mosquitto_pub ${hp} -t octolux/cmd/read_input -m 1`,
        `  mosquitto_pub ${hp} -t octolux/cmd/discharge_pct -m 50`,
        `  npx -y deno@2.9.6 task ess2mqtt read-hold 21 --host 127.0.0.1 --port ${simPort} --datalog ${datalog} --serial ${serial}`,
        `  printf '${tuiIni}' > demo.ini && ${tuiEnv}npx -y deno@2.9.6 task ess2mqtt -c demo.ini tui`,
        "Ctrl+C stops the demo.",
      ].join("\n"),
      {
        broker: running.brokerUrl,
        inverter: { host: "127.0.0.1", port: simPort, datalog, serial },
        dbus: dbusAddress ?? null,
      },
    );
    await waitForAbort(ctx.signal);
  } finally {
    for (const s of stops.reverse()) await s().catch(() => {});
  }
}
