// Integration: `ess2mqtt serve` with [mqtt] discovery = true, the inverter simulator, the Venus simulator
// on a private dbus-daemon and a real mosquitto. The retained device configs parse as JSON, every key a
// value_template reads exists in its state topic's JSON, the chosen Venus items are published without
// any keep-alive, and `homeassistant/status online` makes both bridges publish their configs again.

import assert from "node:assert/strict";
import { InverterSimulator } from "../src/sim/inverter.ts";
import { VenusSim } from "../src/sim/venus.ts";
import { silentLogger } from "../src/log.ts";
import { mosquittoPub, mosquittoSub, startMosquitto } from "./helpers/mosquitto.ts";
import { startDbusDaemon } from "./helpers/dbus_daemon.ts";
import { spawnCli, writeConfig } from "./helpers/cli.ts";

const PORTAL = "e0ff50a097c0";
const VENUS_PATHS = [
  "system/0/Dc/Battery/Soc",
  "system/0/Ac/Consumption/L1/Power",
  "battery/512/Info/MaxChargeCurrent", // unit from GetText
];

const payloadOf = (line: string) => line.slice(line.indexOf(" ") + 1);
/** Every `value_json.<key>` a template reads. */
const templateKeys = (t: string) => [...t.matchAll(/value_json\.([A-Za-z0-9_]+)/g)].map((m) => m[1]);

Deno.test("serve with discovery: device configs match the state topics; HA online → announced again", async () => {
  const bus = await startDbusDaemon();
  const venus = new VenusSim({ address: bus.address, logger: silentLogger, tickMs: 0 });
  const inverter = new InverterSimulator({ port: 0, interval: 0 }, silentLogger);
  const mosq = await startMosquitto();
  let cfg: Awaited<ReturnType<typeof writeConfig>> | undefined;
  let serve: ReturnType<typeof spawnCli> | undefined;
  const sub = mosquittoSub(mosq.port, ["homeassistant/#", "octolux/#", `N/${PORTAL}/#`]);
  try {
    await venus.start();
    const simPort = (await inverter.start()).port;
    cfg = await writeConfig(
      `[mqtt]\nuri = ${mosq.url}\ndiscovery = true\n` +
        `[lxp]\nhost = 127.0.0.1\nport = ${simPort}\nserial = ${inverter.serial}\ndatalog = ${inverter.datalog}\n` +
        `[dbus]\naddress = ${bus.address}\nkeepalive = 60\ndiscovery_paths = ${VENUS_PATHS.join(", ")}\n`,
    );
    serve = spawnCli(["-c", cfg.path, "serve"]);
    const invId = `ess2mqtt_${inverter.datalog.toLowerCase()}`;
    const invTopic = `homeassistant/device/${invId}/config`;
    const venusTopic = `homeassistant/device/ess2mqtt_venus_${PORTAL}/config`;
    const inv = JSON.parse(payloadOf(await sub.waitFor((l) => l.startsWith(invTopic + " "))));
    const ven = JSON.parse(payloadOf(await sub.waitFor((l) => l.startsWith(venusTopic + " "))));
    await sub.waitFor((l) => l === "octolux/inverter online");

    // the inverter's inputs JSON, every block
    const state = new Map<string, Record<string, unknown>>();
    for (const block of [1, 2, 3, 4]) {
      await mosquittoPub(mosq.port, "octolux/cmd/read_input", String(block));
      const line = await sub.waitFor((l) => l.startsWith(`octolux/inputs/${block} `));
      state.set(`octolux/inputs/${block}`, JSON.parse(payloadOf(line)));
    }
    // the chosen Venus items: published with no keep-alive from anyone
    for (const p of VENUS_PATHS) {
      const line = await sub.waitFor((l) => l.startsWith(`N/${PORTAL}/${p} `));
      state.set(`N/${PORTAL}/${p}`, JSON.parse(payloadOf(line)));
    }
    assert.equal(
      sub.lines.some((l) => l.startsWith(`N/${PORTAL}/pvinverter/`)),
      false,
      "others wait for a keep-alive",
    );

    let checked = 0;
    for (const cfgJson of [inv, ven]) {
      for (const [key, c] of Object.entries(cfgJson.cmps as Record<string, Record<string, unknown>>)) {
        const template = c.value_template as string | undefined;
        if (!template || !String(c.state_topic).match(/^(octolux\/inputs\/|N\/)/)) continue;
        const json = state.get(String(c.state_topic));
        assert.ok(json, `${key}: state topic ${c.state_topic} was published`);
        for (const k of templateKeys(template)) {
          assert.ok(k in json, `${key}: ${c.state_topic} has "${k}"`);
          checked++;
        }
      }
    }
    assert.ok(checked > 90, `checked ${checked} template keys`);
    assert.equal(ven.cmps.battery_512_info_maxchargecurrent.unit_of_measurement, "A");
    assert.equal(ven.cmps.system_0_dc_battery_soc.unit_of_measurement, "%");

    // Home Assistant restarts: its birth message brings both configs again
    const count = (topic: string) => sub.lines.filter((l) => l.startsWith(topic + " ")).length;
    const [invBefore, venusBefore] = [count(invTopic), count(venusTopic)];
    await mosquittoPub(mosq.port, "homeassistant/status", "online");
    await sub.waitFor((l) => l.startsWith(invTopic + " ") && count(invTopic) > invBefore);
    await sub.waitFor((l) => l.startsWith(venusTopic + " ") && count(venusTopic) > venusBefore);
    // ... and `offline` does not (fence: a marker published after it arrives first)
    const [invNow, venusNow] = [count(invTopic), count(venusTopic)];
    await mosquittoPub(mosq.port, "homeassistant/status", "offline");
    await mosquittoPub(mosq.port, "octolux/fence", "1");
    await sub.waitFor((l) => l === "octolux/fence 1");
    await mosquittoPub(mosq.port, "homeassistant/status", "online");
    await sub.waitFor((l) => l.startsWith(invTopic + " ") && count(invTopic) > invNow);
    const fence = sub.lines.indexOf("octolux/fence 1");
    assert.equal(sub.lines.slice(0, fence).filter((l) => l.startsWith(invTopic + " ")).length, invNow);
    assert.equal(sub.lines.slice(0, fence).filter((l) => l.startsWith(venusTopic + " ")).length, venusNow);
    assert.equal(await serve.stop("SIGTERM"), 0);
    serve = undefined;
  } finally {
    await serve?.stop();
    await sub.stop();
    await inverter.stop();
    await venus.stop();
    await mosq.stop();
    await bus.stop();
    await cfg?.remove();
  }
});

Deno.test("serve: switching discovery_mode migrates the other form's retained configs", async () => {
  const inverter = new InverterSimulator({ port: 0, interval: 0 }, silentLogger);
  const mosq = await startMosquitto();
  const files: Awaited<ReturnType<typeof writeConfig>>[] = [];
  let serve: ReturnType<typeof spawnCli> | undefined;
  const sub = mosquittoSub(mosq.port, ["homeassistant/#", "octolux/#"]);
  try {
    const simPort = (await inverter.start()).port;
    const id = `ess2mqtt_${inverter.datalog.toLowerCase()}`;
    const config = async (mode: string) => {
      const f = await writeConfig(
        `[mqtt]\nuri = ${mosq.url}\ndiscovery = true\ndiscovery_mode = ${mode}\n` +
          `[lxp]\nhost = 127.0.0.1\nport = ${simPort}\nserial = ${inverter.serial}\ndatalog = ${inverter.datalog}\n`,
      );
      files.push(f);
      return f.path;
    };
    const vbat = `homeassistant/sensor/${id}/v_bat/config`;
    const deviceTopic = `homeassistant/device/${id}/config`;
    // an older setup: one config per entity
    serve = spawnCli(["-c", await config("entity"), "serve"]);
    await sub.waitFor((l) => l.startsWith(vbat + " {"));
    await sub.waitFor((l) => l === "octolux/inverter online");
    assert.equal(await serve.stop("SIGTERM"), 0);
    // the per-entity configs the first run left retained (the last one is emptied last)
    const oldTopics = [
      ...new Set(
        sub.lines.filter((l) => /^homeassistant\/(?!device\/)\S+\/config \{/.test(l)).map((l) =>
          l.slice(0, l.indexOf(" "))
        ),
      ),
    ];
    // now the device form: marker, device config, then the old topics emptied
    serve = spawnCli(["-c", await config("device"), "serve"]);
    await sub.waitFor((l) => l === `${vbat} {"migrate_discovery":true}`);
    const cleared = await sub.waitFor((l) => l === `${vbat} (null)`); // mosquitto_sub: empty payload
    for (const t of oldTopics) await sub.waitFor((l) => l === `${t} (null)`);
    const at = (pred: (l: string) => boolean, from = 0) =>
      sub.lines.findIndex((l, i) => i >= from && pred(l));
    const marker = at((l) => l === `${vbat} {"migrate_discovery":true}`);
    const config2 = at((l) => l.startsWith(deviceTopic + " "), marker);
    assert.ok(
      marker >= 0 && config2 > marker && sub.lines.lastIndexOf(cleared) > config2,
      "marker, config, clear",
    );
    // what stays retained for this device: the device config only
    const check = mosquittoSub(mosq.port, [`homeassistant/+/${id}/#`, "octolux/fence2"]);
    try {
      await check.waitFor((l) => l.startsWith(deviceTopic + " {"));
      await mosquittoPub(mosq.port, "octolux/fence2", "1");
      await check.waitFor((l) => l === "octolux/fence2 1");
      const retained = check.lines.filter((l) => l.startsWith("homeassistant/"));
      assert.deepEqual(retained.map((l) => l.slice(0, l.indexOf(" "))), [deviceTopic]);
    } finally {
      await check.stop();
    }
    assert.equal(await serve.stop("SIGTERM"), 0);
    serve = undefined;
  } finally {
    await serve?.stop();
    await sub.stop();
    await inverter.stop();
    await mosq.stop();
    for (const f of files) await f.remove();
  }
});
