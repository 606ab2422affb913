import type { CliContext, ProgramWithGlobals } from "./context.ts";

export function registerConfigCommands(program: ProgramWithGlobals, ctx: CliContext): void {
  const config = program.command("config").description("configuration helpers");
  config
    .command("check")
    .description(
      "validate the config file (and ESS2MQTT_* env overrides) exactly as serve does; print the effective config, passwords masked",
    )
    .addHelpText(
      "after",
      "\nExamples:\n  $ ess2mqtt -c /etc/ess2mqtt.ini config check\n  $ ess2mqtt config check --json\n",
    )
    .action(async () => {
      const { renderConfig, maskedConfig } = await import("../config.ts");
      const cfg = await ctx.loadConfig();
      ctx.print(renderConfig(cfg), maskedConfig(cfg));
    });
  config
    .command("example")
    .description("print a config file documenting every key with its default")
    .addHelpText("after", "\nExamples:\n  $ ess2mqtt config example > config.ini\n")
    .action(async () => {
      const { exampleConfig } = await import("../config_example.ts");
      ctx.print(exampleConfig(), { ini: exampleConfig() });
    });
}
