// Long-running commands: serve, tui, demo. They build on the composition root (src/app.ts).

import { Option } from "@commander-js/extra-typings";
import type { CliContext, ProgramWithGlobals } from "./context.ts";
import { chooseInverter, INVERTER_FLAG, INVERTER_HELP } from "./inverter_option.ts";
import { CliError, ExitCode } from "./errors.ts";

export function registerServeCommands(program: ProgramWithGlobals, ctx: CliContext): void {
  program
    .command("serve")
    .description(
      "run the bridges: LuxPower ⇄ MQTT ([lxp]) and Victron D-Bus ⇄ MQTT ([dbus]); embedded broker when [mqtt] uri is empty",
    )
    .addHelpText(
      "after",
      "\nExamples:\n  $ ess2mqtt serve -c /etc/ess2mqtt.ini\n  $ ESS2MQTT_MQTT_URI=mqtt://broker:1883 ess2mqtt serve\n",
    )
    .action(async () => {
      const config = await ctx.loadConfig();
      const logger = ctx.logger();
      const { startServices, waitForAbort } = await import("../app.ts");
      const running = await startServices(config, logger, ctx.signal);
      logger.info("serving; Ctrl+C to stop", { broker: running.brokerUrl.replace(/\/\/[^@]*@/, "//***@") });
      await waitForAbort(ctx.signal);
      logger.info("stopping", { signal: ctx.interruptedBy });
      await running.stop();
    });

  program
    .command("tui")
    .description(
      "operator console: inputs, holding registers (read/write, named commands), the D-Bus tree (read/write)",
    )
    .addOption(
      new Option(
        "--via <source>",
        "mqtt: the bridges' topics on [mqtt] uri (default when set); direct: the dongle and the bus themselves",
      ).choices(["mqtt", "direct"] as const),
    )
    .option(INVERTER_FLAG, INVERTER_HELP)
    .addHelpText(
      "after",
      "\nExamples:\n  $ ess2mqtt tui -c /etc/ess2mqtt.ini\n  $ ess2mqtt tui -c /etc/ess2mqtt.ini --via direct\n" +
        "  $ ess2mqtt tui --inverter garage\n",
    )
    .action(async (opts) => {
      const config = await ctx.loadConfig();
      const inverter = config.inverters.length ? chooseInverter(config, opts.inverter) : undefined;
      const { runTui } = await import("../tui/run.ts");
      const outcome = await runTui({ config, signal: ctx.signal, via: opts.via, inverter });
      if (outcome === "interrupted") throw new CliError(ExitCode.interrupted, "interrupted");
    });

  program
    .command("demo")
    .description(
      "run everything without hardware: inverter simulator, Venus simulator, embedded broker and serve",
    )
    .addOption(new Option("--port <port>", "embedded broker port (0 = any free port)").default("1883"))
    .addOption(new Option("--interval <seconds>", "simulated inverter broadcast interval").default("10"))
    .option("--no-venus", "skip the Venus D-Bus simulator")
    .addHelpText("after", "\nExamples:\n  $ ess2mqtt demo\n  $ ess2mqtt demo --port 0 --no-venus\n")
    .action(async (opts) => {
      const { runDemo } = await import("./demo.ts");
      await runDemo(ctx, { port: opts.port, interval: opts.interval, venus: opts.venus });
    });
}
