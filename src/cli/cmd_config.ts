import type { CliContext, ProgramWithGlobals } from "./context.ts";

export function registerConfigCommands(program: ProgramWithGlobals, ctx: CliContext): void {
  const config = program.command("config").description("configuration helpers");
  config
    .command("check")
    .description(
      "validate the config file (and ESS2MQTT_* env overrides); print the effective config, passwords masked",
    )
    .action(async () => {
      const { renderConfig, maskedConfig } = await import("../config.ts");
      const cfg = await ctx.loadConfig();
      ctx.print(renderConfig(cfg), maskedConfig(cfg));
    });
  config
    .command("example")
    .description("print a config file documenting every key with its default")
    .action(async () => {
      const { exampleConfig } = await import("../config_example.ts");
      ctx.print(exampleConfig(), { ini: exampleConfig() });
    });
}
