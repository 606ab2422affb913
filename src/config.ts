// INI text → validated, typed Config. Every problem is listed at once, each naming the file, section, key
// and the bad value. Environment variables ESS2MQTT_<SECTION>_<KEY> override the file.
// PURE: callers read the file and the environment and pass them in.

// @ts-types="@types/ini"
import ini from "ini";
import { redactUri } from "./mqtt/topic.ts";

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
}
export interface DbusConfig {
  address: string;
  portal_id: string;
  keepalive: number;
  read_only: boolean;
}
export type LogLevelName = "debug" | "info" | "warn" | "error";
export interface Config {
  mqtt: MqttConfig;
  lxp?: LxpConfig;
  dbus?: DbusConfig;
  log: { level: LogLevelName };
}

type FieldType =
  | { kind: "string"; secret?: boolean; length?: number; pattern?: RegExp; patternText?: string }
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
        type: { kind: "string" },
        default: "",
        doc: "mqtt://, mqtts://, ws:// or wss:// URI; user:password@ allowed; empty = embedded broker",
      },
      prefix: {
        type: { kind: "string", pattern: /^[^#+]+$/, patternText: "a topic prefix without + or #" },
        default: "octolux",
        doc: "topic prefix of the inverter bridge",
      },
      listen: {
        type: { kind: "string", pattern: /^(?:\[?[^\]]*?\]?:)?\d{1,5}$/, patternText: "host:port" },
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
        type: { kind: "string", pattern: /^[^#+]+$/, patternText: "a topic prefix without + or #" },
        default: "homeassistant",
        doc: "Home Assistant discovery topic prefix",
      },
    },
  },
  lxp: {
    doc: "LuxPower inverter dongle (TCP server slot, usually port 8000). Absent = inverter bridge off.",
    optional: true,
    absentMeans: "the inverter bridge is off",
    keys: {
      host: {
        type: { kind: "string", pattern: /^\S+$/, patternText: "a host name or IP address" },
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

export class ConfigError extends Error {
  constructor(public readonly problems: string[]) {
    super(problems.join("\n"));
    this.name = "ConfigError";
  }
}

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
      if (t.pattern && s !== "" && !t.pattern.test(s)) return { error: `must be ${t.patternText}` };
      return { value: s };
    }
  }
}

function shown(spec: FieldSpec | undefined, raw: unknown): string {
  if (spec?.type.kind === "string" && spec.type.secret) return "***";
  if (typeof raw === "object" && raw !== null) return JSON.stringify(raw);
  return String(raw);
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

  // where[section][key] = origin label for messages
  const raw: Record<string, Record<string, unknown>> = {};
  const origin: Record<string, Record<string, string>> = {};
  for (const [section, body] of Object.entries(parsed)) {
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      problems.push(`${fileName}: key "${section}" outside any section (got "${shown(undefined, body)}")`);
      continue;
    }
    if (!(section in CONFIG_SCHEMA)) {
      problems.push(
        `${fileName} [${section}]: unknown section (known: ${Object.keys(CONFIG_SCHEMA).join(", ")})`,
      );
      continue;
    }
    raw[section] = {};
    origin[section] = {};
    for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
      raw[section][key] = value;
      origin[section][key] = `${fileName} [${section}] ${key}`;
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
    const key = rest.slice(section.length + 1);
    raw[section] ??= {};
    origin[section] ??= {};
    raw[section][key] = value;
    origin[section][key] = `env ${name}`;
  }

  const out: Record<string, Record<string, unknown>> = {};
  for (const [section, schema] of Object.entries(CONFIG_SCHEMA)) {
    const given = raw[section];
    if (!given && schema.optional) continue;
    const values: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(given ?? {})) {
      const spec = schema.keys[key];
      const where = origin[section][key];
      if (!spec) {
        problems.push(`${where}: unknown key (known: ${Object.keys(schema.keys).join(", ")})`);
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
    for (const [key, spec] of Object.entries(schema.keys)) {
      if (key in values || (given && key in given)) continue;
      if (spec.required) problems.push(`${fileName} [${section}] ${key}: required`);
      else values[key] = spec.default;
    }
    out[section] = values;
  }
  if (problems.length) throw new ConfigError(problems);
  return out as unknown as Config;
}

/** The effective config as INI text, secrets masked (for `config check`). */
export function renderConfig(config: Config): string {
  const lines: string[] = [];
  for (const [section, schema] of Object.entries(CONFIG_SCHEMA)) {
    const values = (config as unknown as Record<string, Record<string, unknown> | undefined>)[section];
    if (!values) {
      lines.push(`; [${section}] absent: ${schema.absentMeans}`, "");
      continue;
    }
    lines.push(`[${section}]`);
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
  return copy;
}
