// `--inverter NAME`: which [lxp.NAME] section a one-shot command talks to (directly, or through a running
// bridge's topics). With one inverter it may be left out; an unknown name, or several inverters and no
// name, is a usage error listing the known names (exit 2).

import type { Config, InverterConfig } from "../config.ts";
import { selectInverter } from "../config_select.ts";
import { CliError, ExitCode } from "./errors.ts";

export const INVERTER_FLAG = "--inverter <name>";
export const INVERTER_HELP = "which [lxp.NAME] inverter (needed when the config has several)";

/** The inverter of `--inverter` (or the only one); undefined when the config has none. */
export function chooseInverter(config: Config, name: string | undefined): InverterConfig | undefined {
  const r = selectInverter(config, name);
  if (typeof r === "string") throw new CliError(ExitCode.usage, `--inverter: ${r}`);
  return r;
}
