// INI text → validated, typed Config. Every problem is listed at once, each naming the file, section, key
// and the bad value. Environment variables ESS2MQTT_<SECTION>_<KEY> override the file.
// Several inverters: [lxp.NAME] sections, each validated with the [lxp] schema; keys a named section leaves
// out come from [lxp] (which then holds shared settings only). ESS2MQTT_LXP_<NAME>_<KEY> overrides them.
// PURE: callers read the file and the environment and pass them in.

// @ts-types="@types/ini"
import ini from "ini";
import { ConfigError } from "./config_error.ts";
import { selectInverter, splitDiscoveryPaths } from "./config_select.ts";
import { redactUri } from "./mqtt/topic.ts";
import { checkBrokerUri, parseListen } from "./mqtt/address.ts";
import { embeddedBrokerProblems } from "./mqtt/embedded.ts";
import { RESERVED_INVERTER_NAMES, TOPIC_LAYOUTS, type TopicLayoutName } from "./lxp/topics.ts";

export interface MqttConfig {
  uri: string;
  prefix: string;
  listen: string;
  listen_username: string;
  listen_password: string;
  listen_password_file: string;
  allow_anonymous: boolean;
  listen_cert: string;
  listen_key: string;
  username: string;
  password: string;
  client_id: string;
  ca: string;
  cert: string;
  key: string;
  reject_unauthorized: boolean;
  discovery: boolean;
  discovery_prefix: string;
  discovery_mode: "device" | "entity";
  topics: TopicLayoutName;
}
export interface LxpConfig {
  host: string;
  port: number;
  serial: string;
  datalog: string;
  heartbeats: boolean;
  connect_timeout: number;
  command_timeout: number;
  silence_timeout: number;
  read_interval: number;
  read_holdings_on_connect: boolean;
}
/** One inverter: its [lxp.NAME] section over [lxp], or the [lxp] section alone (name ""). */
export interface InverterConfig extends LxpConfig {
  name: string;
  time_sync: "off" | "daily";
  time_sync_threshold: number;
}
export interface DbusConfig {
  address: string;
  portal_id: string;
  keepalive: number;
  read_only: boolean;
  /** Comma-separated <type>/<instance>/<path> items announced to Home Assistant ("" or absent: none). */
  discovery_paths?: string;
}
export type LogLevelName = "debug" | "info" | "warn" | "error";
export interface Config {
  mqtt: MqttConfig;
  /** The only inverter, or the first of several (kept for single-inverter callers; see `inverters`). */
  lxp?: InverterConfig;
  /** Every inverter: [lxp] alone gives one named "", [lxp.NAME] sections one each, in file order. */
  inverters: InverterConfig[];
  dbus?: DbusConfig;
  log: { level: LogLevelName };
}

type FieldType =
  | {
    kind: "string";
    secret?: boolean;
    length?: number;
    pattern?: RegExp;
    patternText?: string;
    /** May not be empty when given. */
    nonEmpty?: boolean;
    /** Further check of a non-empty value: an error message naming the bad value, or undefined. */
    check?: (value: string) => string | undefined;
  }
  | { kind: "int"; min: number; max: number }
  | { kind: "number"; min: number; max: number }
  | { kind: "bool" }
  | { kind: "enum"; values: readonly string[] };

export interface FieldSpec {
  type: FieldType;
  default?: string | number | boolean;
  required?: boolean;
  doc: string;
}

/** `a/0/B/C, d/1/E` → ["a/0/B/C", "d/1/E"] (empty entries dropped). */

function checkDiscoveryPaths(text: string): string | undefined {
  for (const p of splitDiscoveryPaths(text)) {
    if (!/^[A-Za-z0-9_]+\/[0-9]+(\/[A-Za-z0-9_]+)+$/.test(p)) {
      return `"${p}" is not <type>/<instance>/<path>, e.g. system/0/Dc/Battery/Soc`;
    }
  }
  return undefined;
}

/** The schema: one entry per section and key. config.example.ini documents exactly these. */
export const CONFIG_SCHEMA: Record<
  "mqtt" | "lxp" | "dbus" | "log",
  { doc: string; optional: boolean; absentMeans?: string; keys: Record<string, FieldSpec> }
> = {
  mqtt: {
    doc: "MQTT broker. With no uri, serve starts the embedded broker on `listen`.",
    optional: false,
    keys: {
      uri: {
        type: { kind: "string", check: checkBrokerUri },
        default: "",
        doc: "mqtt://, mqtts://, ws:// or wss:// URI; user:password@ allowed; empty = embedded broker",
      },
      prefix: {
        type: {
          kind: "string",
          pattern: /^[^#+]+$/,
          patternText: "a topic prefix without + or #",
          nonEmpty: true,
        },
        default: "octolux",
        doc: "topic prefix of the inverter bridge",
      },
      listen: {
        type: {
          kind: "string",
          nonEmpty: true,
          check: (v) => {
            const r = parseListen(v);
            return typeof r === "string" ? r : undefined;
          },
        },
        default: "127.0.0.1:1883",
        doc: "where the embedded broker listens (only when uri is empty)",
      },
      listen_username: {
        type: { kind: "string" },
        default: "",
        doc: "user name clients of the embedded broker must give (with listen_password); empty = anonymous",
      },
      listen_password: {
        type: { kind: "string", secret: true },
        default: "",
        doc: "password for listen_username (or listen_password_file, or env ESS2MQTT_MQTT_LISTEN_PASSWORD)",
      },
      listen_password_file: {
        type: { kind: "string" },
        default: "",
        doc: "file whose first line is the embedded broker's password (instead of listen_password)",
      },
      allow_anonymous: {
        type: { kind: "bool" },
        default: false,
        doc:
          "let anyone connect to an embedded broker that listens beyond loopback without listen_username (serve refuses to start otherwise)",
      },
      listen_cert: {
        type: { kind: "string" },
        default: "",
        doc: "PEM server certificate: the embedded broker speaks TLS (mqtts) only (with listen_key)",
      },
      listen_key: { type: { kind: "string" }, default: "", doc: "PEM private key of listen_cert" },
      username: {
        type: { kind: "string" },
        default: "",
        doc: "broker user name (or put user:password@ in the uri)",
      },
      password: {
        type: { kind: "string", secret: true },
        default: "",
        doc: "broker password; quote it if it contains # or ;",
      },
      client_id: {
        type: { kind: "string" },
        default: "",
        doc: "MQTT client id (default: ess2mqtt_<random>)",
      },
      ca: { type: { kind: "string" }, default: "", doc: "PEM file of the CA for mqtts/wss" },
      cert: { type: { kind: "string" }, default: "", doc: "PEM client certificate for mqtts/wss" },
      key: { type: { kind: "string" }, default: "", doc: "PEM client key for mqtts/wss" },
      reject_unauthorized: {
        type: { kind: "bool" },
        default: true,
        doc: "verify the broker's TLS certificate",
      },
      discovery: {
        type: { kind: "bool" },
        default: false,
        doc:
          "publish Home Assistant MQTT discovery (retained) for the inverter's sensors, switches and numbers",
      },
      discovery_prefix: {
        type: {
          kind: "string",
          pattern: /^[^#+]+$/,
          patternText: "a topic prefix without + or #",
          nonEmpty: true,
        },
        default: "homeassistant",
        doc: "Home Assistant discovery topic prefix",
      },
      discovery_mode: {
        type: { kind: "enum", values: ["device", "entity"] },
        default: "device",
        doc:
          "device: one retained config per device (<discovery_prefix>/device/<id>/config, Home Assistant 2024.11+); entity: one per entity (older Home Assistant)",
      },
      topics: {
        type: { kind: "enum", values: TOPIC_LAYOUTS },
        default: "octolux",
        doc: "topic layout: octolux (<prefix>/inputs/1 …) or lxp-bridge (lxp/<datalog>/inputs/1, " +
          "lxp/cmd/<datalog>/… → lxp/result/<datalog>/…; prefix then defaults to lxp)",
      },
    },
  },
  lxp: {
    doc: "LuxPower inverter dongle (TCP server slot, usually port 8000). Absent = inverter bridge off.",
    optional: true,
    absentMeans: "the inverter bridge is off",
    keys: {
      host: {
        type: { kind: "string", pattern: /^\S+$/, patternText: "a host name or IP address", nonEmpty: true },
        required: true,
        doc: "dongle IP address or host name",
      },
      port: { type: { kind: "int", min: 1, max: 65535 }, default: 8000, doc: "dongle TCP port" },
      serial: { type: { kind: "string", length: 10 }, required: true, doc: "inverter serial, 10 characters" },
      datalog: {
        type: { kind: "string", length: 10 },
        required: true,
        doc: "dongle (datalog) serial, 10 characters",
      },
      heartbeats: {
        type: { kind: "bool" },
        default: false,
        doc: "echo the dongle's heartbeats (needed when it has no cloud connection)",
      },
      connect_timeout: {
        type: { kind: "number", min: 0.1, max: 300 },
        default: 5,
        doc: "seconds to wait for the TCP connection",
      },
      command_timeout: {
        type: { kind: "number", min: 0.1, max: 600 },
        default: 10,
        doc: "seconds a command may take before it FAILs",
      },
      silence_timeout: {
        type: { kind: "number", min: 1, max: 86400 },
        default: 900,
        doc: "reconnect when nothing arrives for this many seconds",
      },
      read_interval: {
        type: { kind: "number", min: 0, max: 86400 },
        default: 0,
        doc: "read inputs 1–3 every this many seconds (they are always read when the link comes up); " +
          "0 = only the dongle's broadcasts",
      },
      read_holdings_on_connect: {
        type: { kind: "bool" },
        default: false,
        doc: "read holdings 0–239 when the link comes up, so every hold/<reg> topic exists from the start",
      },
      time_sync: {
        type: { kind: "enum", values: ["off", "daily"] },
        default: "off",
        doc:
          "daily: check the inverter clock when the link comes up and then once a day; set it to the host's local time when it is off by more than time_sync_threshold",
      },
      time_sync_threshold: {
        type: { kind: "number", min: 1, max: 86400 },
        default: 60,
        doc: "seconds of clock drift tolerated before time_sync sets the inverter clock",
      },
    },
  },
  dbus: {
    doc: "Victron Venus D-Bus. Absent = Venus bridge off.",
    optional: true,
    absentMeans: "the Venus bridge is off",
    keys: {
      address: {
        type: { kind: "string" },
        default: "system",
        doc: "system | session | a D-Bus address (unix:path=…, unix:abstract=…, tcp:host=…,port=…)",
      },
      portal_id: {
        type: { kind: "string", pattern: /^[^/+#\s]*$/, patternText: "no /, +, # or spaces" },
        default: "",
        doc: "portal id in topics (default: com.victronenergy.system /Serial, else the MAC)",
      },
      keepalive: {
        type: { kind: "number", min: 0, max: 86400 },
        default: 60,
        doc: "seconds notifications flow after a keep-alive; 0 = always publish",
      },
      read_only: { type: { kind: "bool" }, default: false, doc: "refuse W/ write requests" },
      discovery_paths: {
        type: { kind: "string", check: checkDiscoveryPaths },
        default: "",
        doc:
          "with [mqtt] discovery: Home Assistant sensors for these <type>/<instance>/<path> items, comma-separated (e.g. system/0/Dc/Battery/Soc, system/0/Ac/Consumption/L1/Power); always published while the bridge runs",
      },
    },
  },
  log: {
    doc: "Logging (stderr; JSON lines when not a terminal).",
    optional: false,
    keys: {
      level: {
        type: { kind: "enum", values: ["debug", "info", "warn", "error"] },
        default: "info",
        doc: "debug | info | warn | error",
      },
    },
  },
};

export type SectionName = keyof typeof CONFIG_SCHEMA;

export { ConfigError, selectInverter, splitDiscoveryPaths };

const TRUE_WORDS = ["true", "yes", "on", "1"];
const FALSE_WORDS = ["false", "no", "off", "0"];

function coerce(spec: FieldSpec, raw: unknown): { value: string | number | boolean } | { error: string } {
  const t = spec.type;
  const text = raw === null ? "" : String(raw);
  switch (t.kind) {
    case "bool": {
      if (typeof raw === "boolean") return { value: raw };
      const w = text.trim().toLowerCase();
      if (TRUE_WORDS.includes(w)) return { value: true };
      if (FALSE_WORDS.includes(w)) return { value: false };
      return { error: "must be true or false" };
    }
    case "int":
    case "number": {
      const s = text.trim();
      const ok = t.kind === "int" ? /^-?\d+$/.test(s) : /^-?\d+(\.\d+)?$/.test(s);
      if (!ok) return { error: t.kind === "int" ? "must be a whole number" : "must be a number" };
      const n = Number(s);
      if (n < t.min || n > t.max) return { error: `must be between ${t.min} and ${t.max}` };
      return { value: n };
    }
    case "enum":
      if (!t.values.includes(text.trim())) return { error: `must be one of ${t.values.join(", ")}` };
      return { value: text.trim() };
    case "string": {
      if (typeof raw === "boolean") return { error: "must be text, not a boolean" };
      const s = text.trim();
      if (t.length !== undefined && s.length !== t.length) {
        return { error: `must be exactly ${t.length} characters (has ${s.length})` };
      }
      if (s === "" && t.nonEmpty) return { error: "must not be empty" };
      if (t.pattern && s !== "" && !t.pattern.test(s)) return { error: `must be ${t.patternText}` };
      const problem = s !== "" ? t.check?.(s) : undefined;
      if (problem) return { error: problem };
      return { value: s };
    }
  }
}

function shown(spec: FieldSpec | undefined, raw: unknown): string {
  if (spec?.type.kind === "string" && spec.type.secret) return "***";
  if (typeof raw === "object" && raw !== null) return JSON.stringify(raw);
  return String(raw);
}

/** An [lxp.NAME] name: it goes into topics (octolux/NAME/…) and env names (ESS2MQTT_LXP_NAME_HOST). */
function checkInverterName(name: string): string | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(name)) {
    return `an inverter name is letters, digits, _ and - only (got "${name}")`;
  }
  if (RESERVED_INVERTER_NAMES.includes(name)) {
    return `"${name}" is a topic name of its own; choose another inverter name (not ${
      RESERVED_INVERTER_NAMES.join(", ")
    })`;
  }
  return undefined;
}

/** One section's values, coerced, with defaults; problems are appended (the label names the section). */
function validateSection(
  section: string,
  keys: Record<string, FieldSpec>,
  given: Record<string, unknown>,
  origin: Record<string, string>,
  fileName: string,
  problems: string[],
): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(given)) {
    const spec = keys[key];
    const where = origin[key];
    if (!spec) {
      problems.push(`${where}: unknown key (known: ${Object.keys(keys).join(", ")})`);
      continue;
    }
    if (typeof value === "object" && value !== null) {
      problems.push(`${where}: must be a single value (got "${shown(spec, value)}")`);
      continue;
    }
    const r = coerce(spec, value);
    if ("error" in r) problems.push(`${where}: ${r.error} (got "${shown(spec, value)}")`);
    else values[key] = r.value;
  }
  for (const [key, spec] of Object.entries(keys)) {
    if (key in values || key in given) continue;
    if (spec.required) problems.push(`${fileName} [${section}] ${key}: required`);
    else values[key] = spec.default;
  }
  return values;
}

export interface ConfigSources {
  /** INI text; empty string for "no file". */
  text: string;
  /** Name used in messages, e.g. "config.ini". */
  fileName: string;
  env?: Record<string, string>;
}

/** Parse and validate; throws ConfigError listing every problem. */
export function parseConfig({ text, fileName, env = {} }: ConfigSources): Config {
  const problems: string[] = [];
  let parsed: Record<string, unknown>;
  try {
    parsed = ini.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError([`${fileName}: cannot parse: ${(err as Error).message}`]);
  }

  // raw[section][key] = value, origin[section][key] = label for messages; named inverters are "lxp.NAME"
  const raw: Record<string, Record<string, unknown>> = {};
  const origin: Record<string, Record<string, string>> = {};
  const put = (section: string, key: string, value: unknown, where: string) => {
    raw[section] ??= {};
    origin[section] ??= {};
    raw[section][key] = value;
    origin[section][key] = where;
  };
  const names: string[] = [];
  for (const [section, body] of Object.entries(parsed)) {
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      problems.push(`${fileName}: key "${section}" outside any section (got "${shown(undefined, body)}")`);
      continue;
    }
    if (!(section in CONFIG_SCHEMA)) {
      problems.push(
        `${fileName} [${section}]: unknown section (known: ${
          Object.keys(CONFIG_SCHEMA).join(", ")
        }, lxp.NAME)`,
      );
      continue;
    }
    raw[section] ??= {};
    origin[section] ??= {};
    for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
      if (
        section === "lxp" && typeof value === "object" && value !== null && !(key in CONFIG_SCHEMA.lxp.keys)
      ) {
        const problem = checkInverterName(key);
        if (problem) {
          problems.push(`${fileName} [lxp.${key}]: ${problem}`);
          continue;
        }
        names.push(key);
        raw[`lxp.${key}`] = {};
        origin[`lxp.${key}`] = {};
        for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
          put(`lxp.${key}`, k, v, `${fileName} [lxp.${key}] ${k}`);
        }
        continue;
      }
      put(section, key, value, `${fileName} [${section}] ${key}`);
    }
  }
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith("ESS2MQTT_")) continue;
    const rest = name.slice("ESS2MQTT_".length).toLowerCase();
    const section = Object.keys(CONFIG_SCHEMA).find((s) => rest.startsWith(s + "_"));
    if (!section) {
      problems.push(`env ${name}: unknown section (known: ${Object.keys(CONFIG_SCHEMA).join(", ")})`);
      continue;
    }
    let key = rest.slice(section.length + 1);
    let target = section;
    // ESS2MQTT_LXP_<NAME>_<KEY>: a key of [lxp.NAME] (NAME compared without case, - written as _)
    if (section === "lxp" && !(key in CONFIG_SCHEMA.lxp.keys)) {
      const k = Object.keys(CONFIG_SCHEMA.lxp.keys).sort((a, b) => b.length - a.length)
        .find((k) => key.endsWith(`_${k}`) && key.length > k.length + 1);
      if (k) {
        const envName = key.slice(0, -(k.length + 1));
        const known = names.find((n) => n.toLowerCase().replaceAll("-", "_") === envName);
        if (!known) {
          problems.push(
            `env ${name}: no [lxp.${envName}] section in ${fileName} (inverters: ${
              names.join(", ") || "none"
            })`,
          );
          continue;
        }
        target = `lxp.${known}`;
        key = k;
      }
    }
    put(target, key, value, `env ${name}`);
  }

  const out: Record<string, unknown> = {};
  for (const [section, schema] of Object.entries(CONFIG_SCHEMA)) {
    const given = raw[section];
    if (!given && schema.optional) continue;
    if (section === "lxp" && names.length) continue; // shared settings only; checked with each inverter
    out[section] = validateSection(
      section,
      schema.keys,
      given ?? {},
      origin[section] ?? {},
      fileName,
      problems,
    );
  }
  const inverters: InverterConfig[] = [];
  if (names.length) {
    for (const n of names) {
      const given = { ...raw.lxp, ...raw[`lxp.${n}`] };
      const where = { ...origin.lxp, ...origin[`lxp.${n}`] };
      const values = validateSection(`lxp.${n}`, CONFIG_SCHEMA.lxp.keys, given, where, fileName, problems);
      inverters.push({ name: n, ...values } as unknown as InverterConfig);
    }
  } else if (out.lxp) {
    inverters.push({ name: "", ...(out.lxp as object) } as unknown as InverterConfig);
  }
  out.inverters = inverters;
  if (inverters.length) out.lxp = inverters[0];
  const mqtt = out.mqtt as Partial<MqttConfig> | undefined;
  if (mqtt?.topics === "lxp-bridge") {
    // lxp-bridge's namespace is "lxp"; the octolux default would not be what its users' automations expect
    if (!raw.mqtt || !("prefix" in raw.mqtt)) mqtt.prefix = "lxp";
    const seen = new Map<string, string>();
    for (const inv of inverters) {
      const other = seen.get(inv.datalog);
      if (other !== undefined) {
        problems.push(
          `${fileName} [lxp.${inv.name}] datalog: the lxp-bridge topics name inverters by datalog, and ` +
            `[lxp.${other}] has the same (got "${inv.datalog}")`,
        );
      }
      seen.set(inv.datalog, inv.name);
    }
  }
  const embedded = out.mqtt as MqttConfig | undefined;
  if (embedded && !embedded.uri && !problems.some((p) => p.includes("[mqtt] listen"))) {
    for (const p of embeddedBrokerProblems(embedded)) problems.push(`${fileName} ${p}`);
  }
  if (problems.length) throw new ConfigError([...new Set(problems)]);
  return out as unknown as Config;
}

/** The effective config as INI text, secrets masked (for `config check`). */
export function renderConfig(config: Config): string {
  const lines: string[] = [];
  const sections: [string, string, Record<string, unknown> | undefined][] = [];
  for (const section of Object.keys(CONFIG_SCHEMA)) {
    const named = section === "lxp" ? (config.inverters ?? []).filter((i) => i.name !== "") : [];
    if (named.length) {
      for (const inv of named) {
        sections.push([section, `lxp.${inv.name}`, inv as unknown as Record<string, unknown>]);
      }
    } else {
      const values = (config as unknown as Record<string, Record<string, unknown> | undefined>)[section];
      sections.push([section, section, values]);
    }
  }
  for (const [section, label, values] of sections) {
    const schema = CONFIG_SCHEMA[section as SectionName];
    if (!values) {
      lines.push(`; [${section}] absent: ${schema.absentMeans}`, "");
      continue;
    }
    lines.push(`[${label}]`);
    for (const [key, spec] of Object.entries(schema.keys)) {
      let v = values[key];
      // Masked, but with its length, so a user can see that a quoted "se#cr;t" was read whole.
      if (spec.type.kind === "string" && spec.type.secret && v) v = `*** (${String(v).length} characters)`;
      if (key === "uri" && typeof v === "string") v = redactUri(v);
      lines.push(`${key} = ${v}`);
    }
    lines.push("");
  }
  return lines.join("\n");
}

/** The effective config as a JSON-able object, secrets masked. */
export function maskedConfig(config: Config): Record<string, unknown> {
  const copy = structuredClone(config) as unknown as Record<string, Record<string, unknown>>;
  for (const [key, spec] of Object.entries(CONFIG_SCHEMA.mqtt.keys)) {
    if (spec.type.kind === "string" && spec.type.secret && copy.mqtt?.[key]) copy.mqtt[key] = "***";
  }
  if (typeof copy.mqtt?.uri === "string") copy.mqtt.uri = redactUri(copy.mqtt.uri);
  // with named inverters, `lxp` is only the first of `inverters`: shown once
  if ((config.inverters ?? []).some((i) => i.name !== "")) delete copy.lxp;
  return copy;
}
