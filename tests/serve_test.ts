// Integration: the real `ess2mqtt serve` binary running both bridges at once — LuxPower (inverter
// simulator over TCP) and Venus (simulator on a private dbus-daemon) — against a real mosquitto, driven
// with mosquitto_pub/mosquitto_sub; SIGTERM stops it cleanly (exit 0), SIGINT exits 130.

import assert from "node:assert/strict";
import { InverterSimulator } from "../src/sim/inverter.ts";
import { VenusSim } from "../src/sim/venus.ts";
import { variantToJson } from "../src/venus/variant.ts";
import { silentLogger } from "../src/log.ts";
import { mosquittoPub, mosquittoSub, startMosquitto } from "./helpers/mosquitto.ts";
import { startDbusDaemon } from "./helpers/dbus_daemon.ts";
import { runCli, spawnCli, writeConfig } from "./helpers/cli.ts";

const PORTAL = "e0ff50a097c0";

Deno.test("serve runs the LuxPower and the Venus bridge side by side", async () => {
  const bus = await startDbusDaemon();
  const venus = new VenusSim({ address: bus.address, logger: silentLogger, tickMs: 0 });
  const inverter = new InverterSimulator({ port: 0, interval: 0 }, silentLogger);
  const mosq = await startMosquitto();
  let cfg: Awaited<ReturnType<typeof writeConfig>> | undefined;
  let serve: ReturnType<typeof spawnCli> | undefined;
  const sub = mosquittoSub(mosq.port, ["octolux/#", `N/${PORTAL}/#`]);
  try {
    await venus.start();
    const simPort = (await inverter.start()).port;
    cfg = await writeConfig(
      `[mqtt]\nuri = ${mosq.url}\n[lxp]\nhost = 127.0.0.1\nport = ${simPort}\nserial = ${inverter.serial}\ndatalog = ${inverter.datalog}\n` +
        `[dbus]\naddress = ${bus.address}\nkeepalive = 60\n`,
    );
    serve = spawnCli(["-c", cfg.path, "serve"]);
    await serve.waitFor((l) => l.includes("Venus bridge running"));
    await sub.waitFor((l) => l === "octolux/status online");
    // Venus: only Serial and the marker until a keep-alive
    await sub.waitFor((l) => l === `N/${PORTAL}/system/0/Serial {"value": "${PORTAL}"}`);
    assert.equal(sub.lines.some((l) => l.startsWith(`N/${PORTAL}/pvinverter/`)), false);
    await mosquittoPub(mosq.port, `R/${PORTAL}/keepalive`, "");
    await sub.waitFor((l) => l === `N/${PORTAL}/pvinverter/20/Ac/L2/Power {"value": null}`);
    // a write through MQTT reaches the D-Bus service and comes back as a notification
    await mosquittoPub(mosq.port, `W/${PORTAL}/vebus/257/Hub4/L1/AcPowerSetpoint`, '{"value": -200}');
    await sub.waitFor((l) => l === `N/${PORTAL}/vebus/257/Hub4/L1/AcPowerSetpoint {"value": -200}`);
    assert.equal(variantToJson(venus.service("vebus").items.get("/Hub4/L1/AcPowerSetpoint")!.value), -200);
    // LuxPower at the same time
    await mosquittoPub(mosq.port, "octolux/cmd/discharge_pct", "35");
    await sub.waitFor((l) => l === "octolux/result/discharge_pct OK");
    assert.equal(inverter.holdings[65], 35);
    await mosquittoPub(mosq.port, "octolux/cmd/read_input", "1");
    await sub.waitFor((l) => l.startsWith('octolux/inputs/1 {"status":'));
    // SIGTERM: clean stop, exit 0, the bridge says offline (retained)
    assert.equal(await serve.stop("SIGTERM"), 0);
    serve = undefined;
    await sub.waitFor((l) => l === "octolux/status offline");
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

Deno.test("serve: SIGINT exits 130; an unreachable broker exits 5; a bad config exits 3 listing every problem", async () => {
  const mosq = await startMosquitto();
  const cfg = await writeConfig(`[mqtt]\nuri = ${mosq.url}\n`);
  const bad = await writeConfig(`[mqtt]\nuri = mqtt://127.0.0.1:1\n`);
  const invalid = await writeConfig(
    `[mqtt]\nuri = ftp://broker\nprefix =\nlisten = 1.2.3.4:99999\n[lxp]\nhost =\nport = 0\n[dbus]\nkeepalive = -1\n`,
  );
  try {
    const serve = spawnCli(["-c", cfg.path, "serve"]);
    await serve.waitFor((l) => l.includes("serving"));
    assert.equal(await serve.stop("SIGINT"), 130);
    const unreachable = spawnCli(["-c", bad.path, "serve"]);
    const line = await unreachable.waitFor((l) => l.startsWith("ess2mqtt:"), 20000);
    assert.match(line, /MQTT broker mqtt:\/\/127\.0\.0\.1:1 refused the connection/);
    assert.equal(await unreachable.stop(), 5);
    const inv = spawnCli(["-c", invalid.path, "serve"]);
    await inv.waitFor((l) => l.includes("[dbus] keepalive"));
    assert.equal(await inv.stop(), 3);
    const text = inv.lines.join("\n");
    // `config check` runs exactly the validation serve runs
    const check = await runCli(["-c", invalid.path, "config", "check"]);
    assert.equal(check.code, 3);
    for (
      const want of [
        '[mqtt] uri: unsupported scheme "ftp" (use mqtt, mqtts, ws or wss) (got "ftp://broker")',
        '[mqtt] prefix: must not be empty (got "")',
        '[mqtt] listen: port out of range 0–65535: "99999" (got "1.2.3.4:99999")',
        '[lxp] host: must not be empty (got "")',
        "[lxp] port: must be between 1 and 65535",
        "[lxp] serial: required",
        "[lxp] datalog: required",
        "[dbus] keepalive: must be between 0 and 86400",
      ]
    ) {
      assert.ok(text.includes(want), `${want} in:\n${text}`);
      assert.ok(check.stderr.includes(want), `config check: ${want} in:\n${check.stderr}`);
    }
  } finally {
    await mosq.stop();
    await cfg.remove();
    await bad.remove();
    await invalid.remove();
  }
});

Deno.test("serve killed with SIGKILL: nothing retained still reads online (octolux/status offline by the will, no retained inverter state)", async () => {
  const inverter = new InverterSimulator({ port: 0, interval: 0 }, silentLogger);
  const mosq = await startMosquitto();
  let cfg: Awaited<ReturnType<typeof writeConfig>> | undefined;
  let serve: ReturnType<typeof spawnCli> | undefined;
  const sub = mosquittoSub(mosq.port, ["octolux/#"]);
  let late: ReturnType<typeof mosquittoSub> | undefined;
  try {
    const simPort = (await inverter.start()).port;
    // what an older version left behind: a retained "online" inverter state
    await mosquittoPub(mosq.port, "octolux/inverter", "online", ["-r"]);
    cfg = await writeConfig(
      `[mqtt]\nuri = ${mosq.url}\n[lxp]\nhost = 127.0.0.1\nport = ${simPort}\nserial = ${inverter.serial}\ndatalog = ${inverter.datalog}\n`,
    );
    serve = spawnCli(["-c", cfg.path, "serve"]);
    await sub.waitFor((l) => l === "octolux/status online");
    // the dongle goes away: the availability document says so (retained)
    await inverter.stop();
    await sub.waitFor((l) => l === "octolux/status inverter_offline");
    const restarted = new InverterSimulator({ port: simPort, interval: 0 }, silentLogger);
    await restarted.start();
    try {
      const from = sub.lines.lastIndexOf("octolux/status inverter_offline");
      await sub.waitFor((l) => l === "octolux/status online" && sub.lines.lastIndexOf(l) > from, 20000);
      // kill -9: no chance to publish anything; the broker publishes the will
      await serve.stop("SIGKILL");
      serve = undefined;
      await sub.waitFor((l) => l === "octolux/status offline");
    } finally {
      await restarted.stop();
    }
    // A reader arriving now gets only what is retained.
    late = mosquittoSub(mosq.port, ["octolux/#"]);
    await late.waitFor((l) => l === "octolux/status offline");
    // fence: retained messages are all delivered on subscribe, before this marker
    await mosquittoPub(mosq.port, "octolux/fence", "1");
    await late.waitFor((l) => l === "octolux/fence 1");
    const retained = late.lines.slice(0, late.lines.indexOf("octolux/fence 1"));
    assert.deepEqual(retained.filter((l) => / online$/.test(l)), [], retained.join("\n"));
    assert.deepEqual(
      retained.filter((l) => l.startsWith("octolux/inverter")),
      [],
      "no retained inverter state",
    );
  } finally {
    await serve?.stop();
    await late?.stop();
    await sub.stop();
    await inverter.stop();
    await mosq.stop();
    await cfg?.remove();
  }
});
