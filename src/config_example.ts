// PURE: config.example.ini, generated from the one schema so it always documents every key.
import { CONFIG_SCHEMA } from "./config.ts";

const EXAMPLE_VALUES: Record<string, string> = {
  "lxp.host": "192.168.0.50",
  "lxp.serial": "0123456789",
  "lxp.datalog": "BA12345678",
};

const NAMED_INVERTERS = [
  ";",
  "; Several inverters (a parallel system, or sites sharing one ess2mqtt): one [lxp.NAME] section each",
  "; instead of the keys above (NAME: letters, digits, _ and -). A named section takes any key above; keys",
  "; it leaves out come from [lxp], which then holds the shared settings only. Topics carry the name:",
  "; <prefix>/NAME/inputs/1, <prefix>/NAME/hold/<reg>, <prefix>/NAME/cmd/<cmd> → <prefix>/NAME/result/<cmd>,",
  "; <prefix>/NAME/inverter; one-shot commands take --inverter NAME; env: ESS2MQTT_LXP_<NAME>_<KEY>.",
  "; [lxp.master]",
  "; host = 192.168.0.50",
  "; serial = 0123456789",
  "; datalog = BA12345678",
  "; [lxp.slave]",
  "; host = 192.168.0.51",
  "; serial = 1123456789",
  "; datalog = BA22345678",
];

export function exampleConfig(): string {
  const out: string[] = [
    "; ess2mqtt configuration. Every key is shown with its default; remove a whole section to switch that",
    '; bridge off. Values are cut at # and ; (ini comments): quote such values, e.g. password = "se#cr;t".',
    "; Any key can be overridden by the environment: ESS2MQTT_<SECTION>_<KEY>, e.g. ESS2MQTT_MQTT_URI.",
    "",
  ];
  for (const [section, schema] of Object.entries(CONFIG_SCHEMA)) {
    out.push(`; ${schema.doc}`, `[${section}]`);
    for (const [key, spec] of Object.entries(schema.keys)) {
      const example = EXAMPLE_VALUES[`${section}.${key}`];
      const value = example ?? (spec.default === undefined ? "" : String(spec.default));
      const note = spec.required ? " (required)" : "";
      out.push(`; ${spec.doc}${note}`, `${key} = ${value}`);
    }
    if (section === "lxp") out.push(...NAMED_INVERTERS);
    out.push("");
  }
  return out.join("\n");
}
