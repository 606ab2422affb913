// Questions asked of a validated Config without the INI parser (so the CLI's start-up does not load it):
// which inverter a command means, and the [dbus] discovery_paths list.

import type { Config, InverterConfig } from "./config.ts";

/** "a, b ,c" → ["a", "b", "c"] (empty entries dropped). */
export function splitDiscoveryPaths(text: string): string[] {
  return text.split(",").map((p) => p.trim()).filter((p) => p !== "");
}

/**
 * The inverter a one-shot command talks to: the one named, or the only one. An error message (listing the
 * known names) when the name is unknown, or when there are several and none was named.
 */
export function selectInverter(config: Config, name?: string): InverterConfig | string | undefined {
  const all = config.inverters;
  const known = all.map((i) => i.name).filter((n) => n !== "");
  if (name !== undefined) {
    const hit = all.find((i) => i.name === name);
    if (hit) return hit;
    return known.length
      ? `no inverter "${name}" in the config (known: ${known.join(", ")})`
      : `no inverter "${name}": the config has ${
        all.length ? "one unnamed [lxp] section" : "no [lxp] section"
      }`;
  }
  if (all.length > 1) return `the config has ${all.length} inverters: give --inverter ${known.join("|")}`;
  return all[0];
}
