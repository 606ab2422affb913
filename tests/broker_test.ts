// The embedded broker (aedes): a 10,090-topic burst reaches every connected subscriber completely and in
// order; a retained command delivered live is refused by serve's bridges (LuxPower and Venus) as with
// mosquitto's retain-as-published; listen credentials, TLS, and serve's refusal to run an anonymous broker
// beyond loopback. Drives the real CLI where the issue names it (serve, read-hold --via mqtt).

import assert from "node:assert/strict";
import { deliverInOrder, EmbeddedBroker } from "../src/mqtt/broker.ts";
import { MqttLink, type MqttMessage } from "../src/mqtt/client.ts";
import { silentLogger } from "../src/log.ts";
import { VenusSim } from "../src/sim/venus.ts";
import { variantToJson } from "../src/venus/variant.ts";
import { freePort, mosquittoPub, mosquittoSub } from "./helpers/mosquitto.ts";
import { startDbusDaemon } from "./helpers/dbus_daemon.ts";
import { startTestSimulator } from "./helpers/inverter_sim.ts";
import { runCli, spawnCli, writeConfig } from "./helpers/cli.ts";
import { until } from "./helpers/wait.ts";

const BURST = 10_090; // sim venus --scale 50: 10,000 load paths + the base system

async function sh(cmd: string, args: string[], cwd: string) {
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "null", stderr: "piped" }).output();
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
}

const link = (uri: string, o: Partial<ConstructorParameters<typeof MqttLink>[0]> = {}) =>
  new MqttLink({ uri, connectTimeoutMs: 3000, reconnectPeriodMs: 0, ...o }, silentLogger);

Deno.test("embedded broker: a 10,090-topic burst reaches every connected subscriber, complete and in order", async () => {
  const broker = new EmbeddedBroker({ host: "127.0.0.1", port: 0 }, silentLogger);
  const { url, port } = await broker.start();
  const pub = link(url, { clientId: "burst_pub" });
  const sub = link(url, { clientId: "burst_sub" });
  const cli = mosquittoSub(port, ["N/#"]);
  try {
    await pub.start();
    await sub.start();
    const got: MqttMessage[] = [];
    await sub.subscribeAsync("N/#", (m) => got.push(m));
    // mosquitto_sub is subscribed once it sees a message published after it connected
    await until(async () => {
      await pub.publishAsync("N/hello", "1", { qos: 0 });
      return cli.lines.includes("N/hello 1");
    }, "mosquitto_sub subscribed");
    // Retained notifications as the Venus bridge sends them after a keep-alive, with non-retained
    // messages in between (what overtook the retained ones and made aedes drop them), then a fence.
    const expected: string[] = [];
    for (let i = 0; i < BURST; i++) {
      const topic = `N/p/load/${i}/P`;
      pub.publishFast(topic, `{"value": ${i}}`, true);
      expected.push(`${topic} {"value": ${i}}`);
      if (i % 1000 === 999) {
        pub.publishFast(`N/p/marker/${i}`, "m", false);
        expected.push(`N/p/marker/${i} m`);
      }
    }
    pub.publishFast("N/p/fence", "done", false);
    expected.push("N/p/fence done");
    const dec = new TextDecoder();
    await until(
      () => got.some((m) => m.topic === "N/p/fence"),
      "the fence at the MqttLink subscriber",
      30000,
    );
    await cli.waitFor((l) => l === "N/p/fence done", 30000);
    const all = got.map((m) => `${m.topic} ${dec.decode(m.payload)}`);
    const seen = all.slice(all.indexOf(expected[0])); // after the last N/hello
    assert.equal(seen.length, expected.length, "every message reached the MqttLink subscriber");
    assert.deepEqual(seen, expected, "in the order they were published");
    const cliSeen = cli.lines.slice(cli.lines.indexOf(expected[0]));
    assert.deepEqual(cliSeen, expected, "every message reached mosquitto_sub, in order");
  } finally {
    await cli.stop();
    await sub.stop();
    await pub.stop();
    await broker.stop();
  }
});

Deno.test("embedded broker: credentials and TLS (listen_cert/listen_key)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ess2mqtt-broker-" });
  try {
    await sh("openssl", [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "2",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
      "-keyout",
      "server.key",
      "-out",
      "server.crt",
    ], dir);
    const broker = new EmbeddedBroker({ host: "127.0.0.1", port: 0 }, silentLogger, {
      username: "bridge",
      password: "se#cr;t",
      tls: { cert: await Deno.readFile(`${dir}/server.crt`), key: await Deno.readFile(`${dir}/server.key`) },
    });
    const { url, port } = await broker.start();
    try {
      assert.equal(url, `mqtts://127.0.0.1:${port}`);
      const ok = link(url, { ca: `${dir}/server.crt`, username: "bridge", password: "se#cr;t" });
      await ok.start();
      assert.equal(ok.connected, true);
      await ok.stop();
      const refused = async (o: Partial<ConstructorParameters<typeof MqttLink>[0]>, why: RegExp) => {
        const l = link(url, { ca: `${dir}/server.crt`, ...o });
        await assert.rejects(l.start(), why);
        await l.stop();
      };
      await refused({}, /refused the connection/);
      await refused({ username: "bridge", password: "wrong" }, /refused the connection/);
      await refused({ username: "other", password: "se#cr;t" }, /refused the connection/);
      assert.equal(broker.stats.refused, 3);
      // plain MQTT on the TLS listener gets nowhere
      const plain = link(`mqtt://127.0.0.1:${port}`, {
        username: "bridge",
        password: "se#cr;t",
        connectTimeoutMs: 500,
      });
      await assert.rejects(plain.start());
      await plain.stop();
    } finally {
      await broker.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("serve with the embedded broker: credentials required, live retained commands refused, --via mqtt uses the credentials", async () => {
  const bus = await startDbusDaemon();
  const venus = new VenusSim({ address: bus.address, logger: silentLogger, tickMs: 0 });
  const { sim, port: simPort } = await startTestSimulator();
  const port = freePort();
  const auth = ["-u", "bridge", "-P", "pw#1;x"];
  let cfg: Awaited<ReturnType<typeof writeConfig>> | undefined;
  let serve: ReturnType<typeof spawnCli> | undefined;
  let sub: ReturnType<typeof mosquittoSub> | undefined;
  try {
    await venus.start();
    const portal = venus.portalId;
    const dir = await Deno.makeTempDir({ prefix: "ess2mqtt-pw-" });
    await Deno.writeTextFile(`${dir}/pw`, "pw#1;x\n");
    cfg = await writeConfig(
      `[mqtt]\nlisten = 127.0.0.1:${port}\nlisten_username = bridge\nlisten_password_file = ${dir}/pw\n` +
        `[lxp]\nhost = 127.0.0.1\nport = ${simPort}\nserial = ${sim.serial}\ndatalog = ${sim.datalog}\n` +
        `[dbus]\naddress = "${bus.address}"\nkeepalive = 60\n`,
    );
    serve = spawnCli(["-c", cfg.path, "serve"]);
    await serve.waitFor((l) => l.includes("Venus bridge running"));
    await serve.waitFor((l) => l.includes("serving"));
    await Deno.remove(dir, { recursive: true });

    // anonymous and wrong-password clients are refused
    await assert.rejects(mosquittoPub(port, "octolux/cmd/discharge_pct", "10"), /not author/i);
    await assert.rejects(
      mosquittoPub(port, "octolux/cmd/discharge_pct", "10", ["-u", "bridge", "-P", "nope"]),
      /not author|bad user/i,
    );
    sub = mosquittoSub(port, ["octolux/#", `N/${portal}/#`], auth);
    await sub.waitFor((l) => l === "octolux/status online");

    // LuxPower: a retained discharge_pct published live writes nothing, logs the warning; the fence is a
    // plain read_hold after it, answered in order by the same bridge
    const before = sim.holdings[65];
    assert.notEqual(before, 7);
    await mosquittoPub(port, "octolux/cmd/discharge_pct", "7", ["-r", ...auth]);
    await mosquittoPub(port, "octolux/cmd/read_hold", "65", auth);
    await sub.waitFor((l) => l === "octolux/result/read_hold OK");
    assert.equal(sim.holdings[65], before, "the retained command wrote nothing");
    assert.ok(!sub.lines.includes("octolux/result/discharge_pct OK"));
    await serve.waitFor((l) => l.includes("ignoring retained command") && l.includes("discharge_pct"));
    await mosquittoPub(port, "octolux/cmd/discharge_pct", "", ["-r", ...auth]); // clear it

    // Venus: a retained W/ write published live is not executed; a plain one after it is
    const setpoint = "/Hub4/L1/AcPowerSetpoint";
    const item = () => variantToJson(venus.service("vebus").items.get(setpoint)!.value);
    await mosquittoPub(port, `R/${portal}/keepalive`, "", auth);
    await sub.waitFor((l) => l.startsWith(`N/${portal}/vebus/257/Hub4/L1/AcPowerSetpoint `));
    await mosquittoPub(port, `W/${portal}/vebus/257${setpoint}`, '{"value": -123}', ["-r", ...auth]);
    await mosquittoPub(port, `W/${portal}/vebus/257${setpoint}`, '{"value": -77}', auth);
    await sub.waitFor((l) => l === `N/${portal}/vebus/257${setpoint} {"value": -77}`);
    assert.ok(!sub.lines.includes(`N/${portal}/vebus/257${setpoint} {"value": -123}`));
    assert.equal(item(), -77);
    await serve.waitFor((l) => l.includes("retained write request NOT executed"));
    await mosquittoPub(port, `W/${portal}/vebus/257${setpoint}`, "", ["-r", ...auth]);

    // the one-shot CLI reaches the bridge through the embedded broker with the listen credentials
    const env = { ESS2MQTT_MQTT_LISTEN_PASSWORD: "pw#1;x" };
    const cliCfg = await writeConfig(`[mqtt]\nlisten = 127.0.0.1:${port}\nlisten_username = bridge\n`);
    try {
      const r = await runCli(["-c", cliCfg.path, "read-hold", "65", "--via", "mqtt", "--json"], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout).values, [before]);
      const anon = await runCli(["-c", cliCfg.path, "read-hold", "65", "--via", "mqtt"], {
        env: { ESS2MQTT_MQTT_LISTEN_PASSWORD: "wrong" },
      });
      assert.equal(anon.code, 5, anon.stderr);
    } finally {
      await cliCfg.remove();
    }

    assert.equal(await serve.stop("SIGTERM"), 0);
    serve = undefined;
  } finally {
    await serve?.stop();
    await sub?.stop();
    await sim.stop();
    await venus.stop();
    await bus.stop();
    await cfg?.remove();
  }
});

Deno.test("serve refuses an anonymous embedded broker beyond loopback (exit 3, naming the keys)", async () => {
  const open = await writeConfig("[mqtt]\nlisten = 0.0.0.0:0\n");
  const allowed = await writeConfig("[mqtt]\nlisten = 0.0.0.0:0\nallow_anonymous = true\n");
  const halfTls = await writeConfig("[mqtt]\nlisten = 127.0.0.1:0\nlisten_cert = /nonexistent.pem\n");
  try {
    const r = await runCli(["-c", open.path, "serve"]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /listen = 0\.0\.0\.0:0/);
    assert.match(r.stderr, /listen_username/);
    assert.match(r.stderr, /allow_anonymous = true/);
    const t = await runCli(["-c", halfTls.path, "serve"]);
    assert.equal(t.code, 3, t.stderr);
    assert.match(t.stderr, /\[mqtt\] listen_key: required with listen_cert/);
    // with allow_anonymous = true it serves
    const serve = spawnCli(["-c", allowed.path, "serve"]);
    await serve.waitFor((l) => l.includes("serving"));
    assert.equal(await serve.stop("SIGTERM"), 0);
  } finally {
    await open.remove();
    await allowed.remove();
    await halfTls.remove();
  }
});

Deno.test("deliverInOrder: publishes reach the emitter in publish order; a stuck one stops holding the rest", async () => {
  // A stand-in for aedes's publish: numbers the packet, then emits it at once (non-retained), after the
  // "store" (retained: two microtasks), or never (stuck).
  type P = { topic: string; retain: boolean; stuck?: boolean };
  const emitted: string[] = [];
  const fake = {
    counter: 0,
    mq: {
      emit(m: { topic: string; brokerCounter: number; retain: boolean }, cb?: () => void) {
        emitted.push(m.topic);
        cb?.();
      },
    },
    publish(packet: unknown, _client?: unknown, done?: (err?: Error | null) => void) {
      const p = packet as P;
      const m = { topic: p.topic, retain: p.retain, brokerCounter: ++fake.counter };
      if (p.stuck) return;
      const go = () => fake.mq.emit(m, () => done?.());
      if (p.retain) Promise.resolve().then(() => Promise.resolve()).then(go);
      else go();
    },
  };
  const stuck: number[] = [];
  const ordering = deliverInOrder(fake, {
    onEmit: () => {},
    onDelivered: () => {},
    onStuck: (c) => stuck.push(c),
  }, 50);
  try {
    const topics = ["r1", "n1", "r2", "r3", "n2"];
    for (const t of topics) fake.publish({ topic: t, retain: t.startsWith("r") });
    await until(() => emitted.length === topics.length, "every publish emitted");
    assert.deepEqual(emitted, topics, "non-retained ones did not overtake retained ones");
    emitted.length = 0;
    fake.publish({ topic: "s", retain: true, stuck: true });
    fake.publish({ topic: "after", retain: false });
    assert.deepEqual(emitted, [], "held behind the unfinished publish");
    await until(() => emitted.length === 1, "the held publish released after the hold limit");
    assert.deepEqual(emitted, ["after"]);
    assert.deepEqual(stuck, [6]);
    assert.equal(ordering.pending(), 0);
  } finally {
    ordering.stop();
  }
});

Deno.test("demo with ESS2MQTT_MQTT_LISTEN_USERNAME/_PASSWORD: its broker wants them and its hints use them", async () => {
  const demo = spawnCli(["demo", "--port", "0", "--no-venus"], {
    env: { ESS2MQTT_MQTT_LISTEN_USERNAME: "demo", ESS2MQTT_MQTT_LISTEN_PASSWORD: "d#mo" },
  });
  try {
    await demo.waitFor((l) => l === "Ctrl+C stops the demo.", 30000);
    const port = Number(
      /embedded MQTT broker at mqtt:\/\/127\.0\.0\.1:(\d+)/.exec(demo.lines.join("\n"))![1],
    );
    const hint = demo.lines.find((l) => l.includes("mosquitto_pub") && l.includes("discharge_pct"))!;
    assert.equal(
      hint.trim(),
      `mosquitto_pub -h 127.0.0.1 -p ${port} -u demo -P "$ESS2MQTT_MQTT_LISTEN_PASSWORD" -t octolux/cmd/discharge_pct -m 50`,
    );
    assert.ok(demo.lines.some((l) => l.includes("username = demo") && l.includes("ESS2MQTT_MQTT_PASSWORD=")));
    await assert.rejects(mosquittoPub(port, "octolux/cmd/discharge_pct", "50"), /not author/i);
    const sub = mosquittoSub(port, ["octolux/result/#"], ["-u", "demo", "-P", "d#mo"]);
    try {
      await until(async () => {
        await mosquittoPub(port, "octolux/cmd/discharge_pct", "50", ["-u", "demo", "-P", "d#mo"]);
        return sub.lines.includes("octolux/result/discharge_pct OK");
      }, "the demo's bridge answering through the authenticated broker");
    } finally {
      await sub.stop();
    }
  } finally {
    assert.equal(await demo.stop("SIGTERM"), 0);
  }
});

/** A raw MQTT 3.1.1 subscriber that reads its socket only when told to (a subscriber that stalls). */
async function stalledSubscriber(port: number, filter: string) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const enc = new TextEncoder();
  const id = enc.encode("stalled");
  const vh = [0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x02, 0, 120, 0, id.length, ...id];
  const f = enc.encode(filter);
  const sub = [0, 1, 0, f.length, ...f, 0];
  await conn.write(new Uint8Array([0x10, vh.length, ...vh, 0x82, sub.length, ...sub]));
  let buf = new Uint8Array(0);
  const messages: [string, string][] = [];
  const dec = new TextDecoder();
  /** Reads and parses until `done(messages)` holds. */
  const readUntil = async (done: (m: [string, string][]) => boolean) => {
    const chunk = new Uint8Array(1 << 20);
    while (!done(messages)) {
      const n = await conn.read(chunk);
      if (n === null) throw new Error("stalled subscriber: connection closed");
      const merged = new Uint8Array(buf.length + n);
      merged.set(buf);
      merged.set(chunk.subarray(0, n), buf.length);
      let off = 0;
      for (;;) {
        let len = 0, mul = 1, p = off + 1, complete = false;
        while (p < merged.length) {
          const b = merged[p++];
          len += (b & 0x7f) * mul;
          mul *= 128;
          if (!(b & 0x80)) {
            complete = true;
            break;
          }
        }
        if (!complete || p + len > merged.length) break;
        if (merged[off] >> 4 === 3) {
          const tl = (merged[p] << 8) | merged[p + 1];
          const qos = (merged[off] >> 1) & 3;
          messages.push([
            dec.decode(merged.subarray(p + 2, p + 2 + tl)),
            dec.decode(merged.subarray(p + 2 + tl + (qos ? 2 : 0), p + len)),
          ]);
        }
        off = p + len;
      }
      buf = merged.slice(off);
    }
  };
  return { conn, messages, readUntil };
}

Deno.test("embedded broker: a subscriber that stops reading holds up no one, and still gets every last value", async () => {
  const broker = new EmbeddedBroker({ host: "127.0.0.1", port: 0 }, silentLogger, { backlogBytes: 65536 });
  const { url, port } = await broker.start();
  const pub = link(url, { clientId: "slow_pub" });
  const fast = link(url, { clientId: "slow_fast" });
  const stalled = await stalledSubscriber(port, "N/#");
  try {
    await pub.start();
    await fast.start();
    let fastCount = 0;
    let fenceSeen = false;
    await fast.subscribeAsync("N/#", (m) => {
      if (m.topic === "N/s/fence") fenceSeen = true;
      else if (m.topic.startsWith("N/s/load/")) fastCount++;
    });
    // the stalled subscriber is subscribed once a message reaches it; from then on it reads nothing
    await until(async () => {
      await pub.publishAsync("N/s/hello", "1", { qos: 0 });
      await stalled.readUntil((m) => m.length > 0);
      return true;
    }, "stalled subscriber subscribed");
    const rounds = 5;
    const pad = "x".repeat(100);
    const last = new Map<string, string>();
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < BURST; i++) {
        const payload = `{"value": ${r * BURST + i}, "pad": "${pad}"}`;
        pub.publishFast(`N/s/load/${i}/P`, payload, true);
        last.set(`N/s/load/${i}/P`, payload);
      }
    }
    pub.publishFast("N/s/fence", "done", false);
    // the connected subscriber gets all of it while the stalled one has not read a byte
    await until(() => fenceSeen, "the fence at the subscriber that reads", 60000);
    assert.equal(fastCount, rounds * BURST);
    assert.ok(broker.slow.stats.heldBack > 0, "the stalled subscriber's messages were held back");
    // the stalled subscriber reads again: intermediate values may be gone, the last one of every topic is not
    await stalled.readUntil((m) => m.some(([t]) => t === "N/s/fence"));
    const got = new Map<string, string>();
    for (const [t, p] of stalled.messages) got.set(t, p);
    for (const [t, p] of last) assert.equal(got.get(t), p, `last value of ${t}`);
    assert.ok(stalled.messages.length < rounds * BURST, "intermediate values were dropped, not queued");
  } finally {
    stalled.conn.close();
    await fast.stop();
    await pub.stop();
    await broker.stop();
  }
});
