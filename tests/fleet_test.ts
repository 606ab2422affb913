// Integration (real CLI, simulators over TCP, a test-started mosquitto): several inverters in one `serve`
// ([lxp.NAME] → octolux/NAME/…), one-shot commands with --inverter, lxp-bridge's topic layout, and three
// sites — three `serve` processes with their own prefixes — on one broker, each command reaching only its
// own inverter.

import assert from "node:assert/strict";
import { mosquittoPub, mosquittoSub, startMosquitto } from "./helpers/mosquitto.ts";
import { runCli, spawnCli, writeConfig } from "./helpers/cli.ts";
import { startTestSimulator } from "./helpers/inverter_sim.ts";

type Sub = ReturnType<typeof mosquittoSub>;

/** Publishes a marker and waits for it: everything published before it has been delivered to `sub`. */
async function fence(port: number, sub: Sub, id: string): Promise<string[]> {
  const from = sub.lines.length;
  await mosquittoPub(port, `fence/${id}`, id);
  await sub.waitFor((l) => l === `fence/${id} ${id}`);
  const to = sub.lines.indexOf(`fence/${id} ${id}`);
  return sub.lines.slice(from, to);
}

Deno.test("two inverters in one serve: octolux/NAME/… topics, each command reaching only its inverter", async () => {
  const a = await startTestSimulator({ datalog: "BA00000001", serial: "1000000001", seed: 1 });
  const b = await startTestSimulator({ datalog: "BA00000002", serial: "1000000002", seed: 2 });
  const mosq = await startMosquitto();
  const sub = mosquittoSub(mosq.port, ["octolux/#", "fence/#", "homeassistant/device/+/config"]);
  const cfg = await writeConfig(
    `[mqtt]\nuri = ${mosq.url}\ndiscovery = true\n` +
      `[lxp]\ncommand_timeout = 5\nread_holdings_on_connect = true\n` +
      `[lxp.master]\nhost = 127.0.0.1\nport = ${a.port}\nserial = 1000000001\ndatalog = BA00000001\n` +
      `[lxp.slave]\nhost = 127.0.0.1\nport = ${b.port}\nserial = 1000000002\ndatalog = BA00000002\n`,
  );
  const serve = spawnCli(["-c", cfg.path, "serve"]);
  try {
    await sub.waitFor((l) => l === "octolux/master/inverter online");
    await sub.waitFor((l) => l === "octolux/slave/inverter online");
    // one availability document for both inverters (several [lxp.NAME])
    await sub.waitFor((l) =>
      l === 'octolux/status {"master":"online","slave":"online"}' ||
      l === 'octolux/status {"slave":"online","master":"online"}'
    );
    // read on connect: inputs and every holding, per inverter, without a command
    for (const name of ["master", "slave"]) {
      for (const n of [1, 2, 3]) await sub.waitFor((l) => l.startsWith(`octolux/${name}/inputs/${n} {`));
      await sub.waitFor((l) => l.startsWith(`octolux/${name}/hold/239 `));
    }
    assert.equal(sub.lines.some((l) => /^octolux\/(inputs|hold|cmd|result)\//.test(l)), false);
    // one HA device per inverter
    const devices = sub.lines.filter((l) => l.startsWith("homeassistant/device/")).map((l) =>
      JSON.parse(l.slice(l.indexOf(" ") + 1)).dev.identifiers[0]
    );
    assert.deepEqual(devices.sort(), ["ess2mqtt_ba00000001_1000000001", "ess2mqtt_ba00000002_1000000002"]);

    const before = { a65: a.sim.holdings[65], b65: b.sim.holdings[65] };
    let from = sub.lines.length;
    await mosquittoPub(mosq.port, "octolux/master/cmd/discharge_pct", "35");
    await sub.waitFor((l) => l === "octolux/master/result/discharge_pct OK");
    assert.ok(sub.lines.slice(from).includes("octolux/master/hold/65 35"));
    assert.equal(a.sim.holdings[65], 35);
    assert.equal(b.sim.holdings[65], before.b65);
    await mosquittoPub(mosq.port, "octolux/slave/cmd/ac_charge", "on");
    await sub.waitFor((l) => l === "octolux/slave/result/ac_charge OK");
    assert.equal(b.sim.holdings[21] & 0x80, 0x80);
    // nothing went to the other inverter's topics, and the unnamed seed topics are not served
    from = sub.lines.length;
    await mosquittoPub(mosq.port, "octolux/cmd/discharge_pct", "10");
    await fence(mosq.port, sub, "1");
    assert.deepEqual(sub.lines.slice(from), ["octolux/cmd/discharge_pct 10", "fence/1 1"]);
    assert.equal(a.sim.holdings[65], 35);
    assert.equal(b.sim.holdings[65], before.b65);
    assert.equal(sub.lines.some((l) => l.startsWith("octolux/slave/result/discharge_pct")), false);
    assert.equal(sub.lines.some((l) => l.startsWith("octolux/master/result/ac_charge")), false);

    // one-shot commands pick their inverter: directly, and through the bridge's topics
    const direct = await runCli(["-c", cfg.path, "--json", "read-hold", "65", "--inverter", "master"]);
    assert.equal(direct.code, 0, direct.stderr);
    assert.deepEqual(JSON.parse(direct.stdout).values, [35]);
    const viaMqtt = await runCli([
      "-c",
      cfg.path,
      "--json",
      "set",
      "discharge_pct",
      "44",
      "--via",
      "mqtt",
      "--inverter",
      "slave",
    ]);
    assert.equal(viaMqtt.code, 0, viaMqtt.stderr);
    assert.equal(b.sim.holdings[65], 44);
    assert.equal(a.sim.holdings[65], 35);
    const bad = await runCli(["-c", cfg.path, "read-hold", "65", "--inverter", "garage"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--inverter: no inverter "garage" in the config \(known: master, slave\)/);
    const none = await runCli(["-c", cfg.path, "read-hold", "65"]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /the config has 2 inverters: give --inverter master\|slave/);

    assert.equal(await serve.stop(), 0);
  } finally {
    await serve.stop();
    await sub.stop();
    await a.sim.stop();
    await b.sim.stop();
    await mosq.stop();
    await cfg.remove();
  }
});

Deno.test("[mqtt] topics = lxp-bridge: lxp-bridge's topics and payloads (spec §5.2)", async () => {
  const a = await startTestSimulator({ datalog: "BA00000001", serial: "1000000001", seed: 1 });
  const b = await startTestSimulator({ datalog: "BA00000002", serial: "1000000002", seed: 2 });
  const mosq = await startMosquitto();
  const sub = mosquittoSub(mosq.port, ["lxp/#", "fence/#", "octolux/#"]);
  const cfg = await writeConfig(
    `[mqtt]\nuri = ${mosq.url}\ntopics = lxp-bridge\n` +
      `[lxp.a]\nhost = 127.0.0.1\nport = ${a.port}\nserial = 1000000001\ndatalog = BA00000001\n` +
      `[lxp.b]\nhost = 127.0.0.1\nport = ${b.port}\nserial = 1000000002\ndatalog = BA00000002\n`,
  );
  const serve = spawnCli(["-c", cfg.path, "serve"]);
  const cmd = async (topic: string, payload: string, result: string) => {
    const from = sub.lines.length;
    await mosquittoPub(mosq.port, topic, payload);
    const line = await sub.waitFor((l) => l.startsWith(`${result} `) && sub.lines.indexOf(l) >= from);
    return { line, lines: sub.lines.slice(from) };
  };
  try {
    await sub.waitFor((l) => l === "lxp/LWT online");
    // inputs read on connect, with lxp-bridge's keys, time and datalog; inputs/all once blocks 1–3 are seen
    const in1 = await sub.waitFor((l) => l.startsWith("lxp/BA00000001/inputs/1 {"));
    const j1 = JSON.parse(in1.slice(in1.indexOf(" ") + 1));
    assert.equal(j1.datalog, "BA00000001");
    assert.equal(typeof j1.time, "number");
    assert.ok("v_ac_r" in j1 && "e_pv_day_1" in j1 && !("v_acr" in j1));
    await sub.waitFor((l) => l.startsWith("lxp/BA00000001/inputs/all {"));
    await sub.waitFor((l) => l.startsWith("lxp/BA00000002/inputs/all {"));

    // read/hold/<reg> with a count → hold/<reg> each, then the result on the command's own path
    let r = await cmd("lxp/cmd/BA00000001/read/hold/64", "3", "lxp/result/BA00000001/read/hold/64");
    assert.equal(r.line, "lxp/result/BA00000001/read/hold/64 OK");
    for (const reg of [64, 65, 66]) {
      assert.ok(r.lines.includes(`lxp/BA00000001/hold/${reg} ${a.sim.holdings[reg]}`), `hold/${reg}`);
    }
    // set/ac_charge → hold/21 and hold/21/bits with ON/OFF
    r = await cmd("lxp/cmd/BA00000002/set/ac_charge", "ON", "lxp/result/BA00000002/set/ac_charge");
    assert.equal(r.line, "lxp/result/BA00000002/set/ac_charge OK");
    assert.equal(b.sim.holdings[21] & 0x80, 0x80);
    const bits = r.lines.findLast((l) => l.startsWith("lxp/BA00000002/hold/21/bits "))!;
    assert.equal(JSON.parse(bits.slice(bits.indexOf(" ") + 1)).ac_charge_en, "ON");
    // set/discharge_rate_pct → hold 65 on that inverter only
    const a65 = a.sim.holdings[65];
    r = await cmd(
      "lxp/cmd/BA00000002/set/discharge_rate_pct",
      "20",
      "lxp/result/BA00000002/set/discharge_rate_pct",
    );
    assert.equal(r.line, "lxp/result/BA00000002/set/discharge_rate_pct OK");
    assert.equal(b.sim.holdings[65], 20);
    assert.equal(a.sim.holdings[65], a65);
    // cmd/all fans out, one result per datalog
    await mosquittoPub(mosq.port, "lxp/cmd/all/set/hold/66", "77");
    await sub.waitFor((l) => l === "lxp/result/BA00000001/set/hold/66 OK");
    await sub.waitFor((l) => l === "lxp/result/BA00000002/set/hold/66 OK");
    assert.deepEqual([a.sim.holdings[66], b.sim.holdings[66]], [77, 77]);
    // hold values are retained (lxp-bridge ≥ 0.10): a late subscriber gets them
    const late = mosquittoSub(mosq.port, ["lxp/BA00000001/hold/66"]);
    try {
      await late.waitFor((l) => l === "lxp/BA00000001/hold/66 77");
    } finally {
      await late.stop();
    }
    // no octolux topics in this layout
    const seen = await fence(mosq.port, sub, "2");
    assert.equal(seen.length, 0);
    assert.equal(sub.lines.some((l) => l.startsWith("octolux/")), false);

    // one-shot over MQTT speaks the same layout
    const viaMqtt = await runCli([
      "-c",
      cfg.path,
      "--json",
      "read-hold",
      "64",
      "--count",
      "2",
      "--via",
      "mqtt",
      "--inverter",
      "a",
    ]);
    assert.equal(viaMqtt.code, 0, viaMqtt.stderr);
    assert.deepEqual(JSON.parse(viaMqtt.stdout).values, [a.sim.holdings[64], a.sim.holdings[65]]);

    assert.equal(await serve.stop(), 0);
    await sub.waitFor((l) => l === "lxp/LWT offline");
  } finally {
    await serve.stop();
    await sub.stop();
    await a.sim.stop();
    await b.sim.stop();
    await mosq.stop();
    await cfg.remove();
  }
});

Deno.test("scale-out: three sites, three serve processes, one broker — commands reach only their own inverter", async () => {
  const mosq = await startMosquitto();
  const sites = ["site1", "site2", "site3"];
  const sims = await Promise.all(sites.map((_, i) => startTestSimulator({ seed: 10 + i })));
  const cfgs = await Promise.all(sites.map((prefix, i) =>
    writeConfig(
      `[mqtt]\nuri = ${mosq.url}\nprefix = ${prefix}\nclient_id = ess2mqtt_${prefix}\n` +
        `[lxp]\nhost = 127.0.0.1\nport = ${sims[i].port}\nserial = ${sims[i].sim.serial}\ndatalog = ${
          sims[i].sim.datalog
        }\n`,
    )
  ));
  const sub = mosquittoSub(mosq.port, ["#"]);
  const serves = cfgs.map((c) => spawnCli(["-c", c.path, "serve"]));
  try {
    for (const s of sites) await sub.waitFor((l) => l === `${s}/inverter online`);
    for (const s of sites) await sub.waitFor((l) => l.startsWith(`${s}/inputs/3 {`));
    const start = sims.map((s) => Array.from(s.sim.holdings));
    for (const [i, site] of sites.entries()) {
      const value = String(41 + i);
      const from = sub.lines.length;
      await mosquittoPub(mosq.port, `${site}/cmd/discharge_pct`, value);
      await sub.waitFor((l) => l === `${site}/result/discharge_pct OK`);
      // fence: every message the command caused has arrived; none is another site's
      const caused = [...sub.lines.slice(from), ...(await fence(mosq.port, sub, `s${i}`))];
      const others = caused.filter((l) => !l.startsWith(`${site}/`) && !l.startsWith("fence/"));
      assert.deepEqual(others, [], `${site}'s command touched: ${others.join(", ")}`);
      assert.ok(caused.includes(`${site}/hold/65 ${value}`));
      for (const [j, s] of sims.entries()) {
        assert.equal(s.sim.holdings[65], j <= i ? 41 + j : start[j][65], `site${j + 1} hold 65`);
      }
    }
    // every sim saw exactly one write: its own
    assert.deepEqual(sims.map((s) => s.sim.stats.writes), [1, 1, 1]);
    for (const s of serves) assert.equal(await s.stop(), 0);
    for (const s of sites) await sub.waitFor((l) => l === `${s}/status offline`);
  } finally {
    for (const s of serves) await s.stop();
    await sub.stop();
    for (const s of sims) await s.sim.stop();
    await mosq.stop();
    for (const c of cfgs) await c.remove();
  }
});

Deno.test("scale-out: the README's mosquitto bridge carries a site's state out and only its commands in", async () => {
  const central = await startMosquitto();
  // the site's local broker, bridged to the central one as the README shows (without TLS)
  const local = await startMosquitto({
    extra: () => [
      "connection central",
      `address 127.0.0.1:${central.port}`,
      "cleansession true",
      "notifications true",
      "notification_topic site1/bridge",
      "topic site1/status out 1",
      "topic site1/inverter out 1",
      "topic site1/inputs/# out 1",
      "topic site1/hold/# out 1",
      "topic site1/result/# out 1",
      "topic site1/cmd/# in 1",
    ],
  });
  const { sim, port } = await startTestSimulator({ seed: 5 });
  const cfg = await writeConfig(
    `[mqtt]\nuri = ${local.url}\nprefix = site1\n` +
      `[lxp]\nhost = 127.0.0.1\nport = ${port}\nserial = ${sim.serial}\ndatalog = ${sim.datalog}\n`,
  );
  const sub = mosquittoSub(central.port, ["#"]);
  let serve: ReturnType<typeof spawnCli> | undefined;
  try {
    await sub.waitFor((l) => l === "site1/bridge 1");
    serve = spawnCli(["-c", cfg.path, "serve"]);
    await sub.waitFor((l) => l === "site1/inverter online");
    await sub.waitFor((l) => l.startsWith("site1/inputs/1 {"));
    await mosquittoPub(central.port, "site1/cmd/discharge_pct", "23");
    await sub.waitFor((l) => l === "site1/result/discharge_pct OK");
    assert.equal(sim.holdings[65], 23);
    // another site's command published at the centre does not come in
    const before = sim.stats.writes;
    await mosquittoPub(central.port, "site2/cmd/discharge_pct", "99");
    await mosquittoPub(central.port, "site1/cmd/read_hold", "65");
    await sub.waitFor((l) => l === "site1/result/read_hold OK");
    assert.equal(sim.stats.writes, before);
    assert.equal(sim.holdings[65], 23);
    assert.equal(sub.lines.some((l) => l.startsWith("site2/result/")), false);
    assert.equal(await serve.stop(), 0);
    serve = undefined;
  } finally {
    await serve?.stop();
    await sub.stop();
    await sim.stop();
    await local.stop();
    await central.stop();
    await cfg.remove();
  }
});
