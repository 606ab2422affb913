import assert from "node:assert/strict";
import { ConfigError, maskedConfig, parseConfig, renderConfig, splitDiscoveryPaths } from "../src/config.ts";
import { exampleConfig } from "../src/config_example.ts";

const parse = (text: string, env: Record<string, string> = {}) =>
  parseConfig({ text, fileName: "config.ini", env });

function problems(text: string, env: Record<string, string> = {}): string[] {
  try {
    parse(text, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
  assert.fail("expected a ConfigError");
}

Deno.test("empty config: mqtt and log defaults, bridges off", () => {
  const c = parse("");
  assert.deepEqual(c.mqtt, {
    uri: "",
    prefix: "octolux",
    listen: "127.0.0.1:1883",
    listen_username: "",
    listen_password: "",
    listen_password_file: "",
    allow_anonymous: false,
    listen_cert: "",
    listen_key: "",
    username: "",
    password: "",
    client_id: "",
    ca: "",
    cert: "",
    key: "",
    reject_unauthorized: true,
    discovery: false,
    discovery_prefix: "homeassistant",
    discovery_mode: "device",
    topics: "octolux",
  });
  assert.equal(c.lxp, undefined);
  assert.deepEqual(c.inverters, []);
  assert.equal(c.dbus, undefined);
  assert.deepEqual(c.log, { level: "info" });
});

Deno.test("types are coerced and defaults filled", () => {
  const c = parse(
    "[lxp]\nhost = 10.0.0.9\nport = 8001\nserial = 0123456789\ndatalog = BA12345678\nheartbeats = yes\ncommand_timeout = 2.5\n[dbus]\nkeepalive = 0\nread_only = true\n",
  );
  assert.deepEqual(c.lxp, {
    name: "",
    host: "10.0.0.9",
    port: 8001,
    serial: "0123456789",
    datalog: "BA12345678",
    heartbeats: true,
    connect_timeout: 5,
    command_timeout: 2.5,
    silence_timeout: 900,
    read_interval: 0,
    read_holdings_on_connect: false,
    time_sync: "off",
    time_sync_threshold: 60,
  });
  assert.deepEqual(c.inverters, [c.lxp]);
  assert.deepEqual(c.dbus, {
    address: "system",
    portal_id: "",
    keepalive: 0,
    read_only: true,
    discovery_paths: "",
  });
});

Deno.test("every problem is listed at once, naming section, key and value", () => {
  assert.deepEqual(
    problems(
      "[lxp]\nhost = h\nserial = 123\nport = 0\nfoo = 1\n[bogus]\nx=1\n[dbus]\nkeepalive = soon\n[mqtt]\nreject_unauthorized = maybe\n",
    ),
    [
      "config.ini [bogus]: unknown section (known: mqtt, lxp, dbus, log, lxp.NAME)",
      'config.ini [mqtt] reject_unauthorized: must be true or false (got "maybe")',
      'config.ini [lxp] serial: must be exactly 10 characters (has 3) (got "123")',
      'config.ini [lxp] port: must be between 1 and 65535 (got "0")',
      "config.ini [lxp] foo: unknown key (known: host, port, serial, datalog, heartbeats, connect_timeout, command_timeout, silence_timeout, read_interval, read_holdings_on_connect, time_sync, time_sync_threshold)",
      "config.ini [lxp] datalog: required",
      'config.ini [dbus] keepalive: must be a number (got "soon")',
    ],
  );
});

Deno.test("ports must be whole numbers in 1..65535", () => {
  const base = "[lxp]\nhost=h\nserial=0123456789\ndatalog=BA12345678\n";
  assert.match(problems(base + "port=65536")[0], /port: must be between 1 and 65535 \(got "65536"\)/);
  assert.match(problems(base + "port=80.5")[0], /port: must be a whole number \(got "80.5"\)/);
  assert.equal(parse(base + "port=65535").lxp?.port, 65535);
});

Deno.test("env overrides the file, and creates sections", () => {
  const c = parse("[mqtt]\nprefix = a\n", {
    ESS2MQTT_MQTT_PREFIX: "b",
    ESS2MQTT_DBUS_ADDRESS: "unix:path=/tmp/x",
    PATH: "/bin",
  });
  assert.equal(c.mqtt.prefix, "b");
  const broker = parse("[mqtt]\nlisten_username = u\n", { ESS2MQTT_MQTT_LISTEN_PASSWORD: "p#w" }).mqtt;
  assert.equal(broker.listen_password, "p#w");
  assert.equal((maskedConfig({ ...c, mqtt: broker }).mqtt as Record<string, unknown>).listen_password, "***");
  assert.equal(c.dbus?.address, "unix:path=/tmp/x");
  assert.deepEqual(problems("", { ESS2MQTT_NOPE_X: "1", ESS2MQTT_MQTT_NOPE: "2" }), [
    "env ESS2MQTT_NOPE_X: unknown section (known: mqtt, lxp, dbus, log)",
    "env ESS2MQTT_MQTT_NOPE: unknown key (known: uri, prefix, listen, listen_username, listen_password, listen_password_file, allow_anonymous, listen_cert, listen_key, username, password, client_id, ca, cert, key, reject_unauthorized, discovery, discovery_prefix, discovery_mode, topics)",
  ]);
});

Deno.test("quoted passwords keep # and ;, unquoted ones are cut by ini, and are masked on output", () => {
  assert.equal(parse('[mqtt]\npassword = "se#cr;t"\n').mqtt.password, "se#cr;t");
  assert.equal(parse("[mqtt]\npassword = se\\#cr\\;t\n").mqtt.password, "se#cr;t");
  assert.equal(parse("[mqtt]\npassword = se#cr;t\n").mqtt.password, "se");
  const c = parse('[mqtt]\nuri = mqtt://bob:pw@h:1883\npassword = "x#y"\n');
  const text = renderConfig(c);
  assert.ok(!text.includes("x#y") && !text.includes(":pw@"));
  assert.match(text, /password = \*\*\* \(3 characters\)/);
  assert.match(text, /uri = mqtt:\/\/bob:\*\*\*@h:1883/);
  assert.equal((maskedConfig(c).mqtt as Record<string, unknown>).password, "***");
  // secrets are not echoed in error messages either
  assert.deepEqual(problems("[mqtt]\npassword[] = a\n"), [
    'config.ini [mqtt] password: must be a single value (got "***")',
  ]);
});

Deno.test("config.example.ini is the generated example and parses", async () => {
  const text = exampleConfig();
  assert.equal(await Deno.readTextFile(new URL("../config.example.ini", import.meta.url)), text);
  const c = parse(text);
  assert.equal(c.lxp?.serial, "0123456789");
  assert.equal(c.dbus?.keepalive, 60);
});

Deno.test("discovery_mode is device or entity; discovery_paths are <type>/<instance>/<path> items", () => {
  assert.equal(parse("[mqtt]\ndiscovery_mode = entity\n").mqtt.discovery_mode, "entity");
  const c = parse("[dbus]\ndiscovery_paths = system/0/Dc/Battery/Soc, system/0/Ac/Consumption/L1/Power\n");
  assert.deepEqual(splitDiscoveryPaths(c.dbus!.discovery_paths!), [
    "system/0/Dc/Battery/Soc",
    "system/0/Ac/Consumption/L1/Power",
  ]);
  assert.deepEqual(
    problems(
      "[mqtt]\ndiscovery_mode = both\n[dbus]\ndiscovery_paths = system/0/Dc/Battery/Soc, Dc/Battery/Soc\n",
    ),
    [
      'config.ini [mqtt] discovery_mode: must be one of device, entity (got "both")',
      'config.ini [dbus] discovery_paths: "Dc/Battery/Soc" is not <type>/<instance>/<path>, e.g. system/0/Dc/Battery/Soc (got "system/0/Dc/Battery/Soc, Dc/Battery/Soc")',
    ],
  );
});
