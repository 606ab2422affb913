import assert from "node:assert/strict";
import { MqttLink, type MqttMessage } from "../src/mqtt/client.ts";
import { EmbeddedBroker } from "../src/mqtt/broker.ts";
import { checkBrokerUri, listenUri, parseListen } from "../src/mqtt/address.ts";
import { redactUri, topicMatches } from "../src/mqtt/topic.ts";
import { memoryLogger, silentLogger } from "../src/log.ts";
import { mosquittoPub, mosquittoSub, startMosquitto } from "./helpers/mosquitto.ts";
import { until, withTimeout } from "./helpers/wait.ts";
import { MqttError } from "../src/mqtt/errors.ts";
import { exitCodeFor } from "../src/cli/errors.ts";

Deno.test("topicMatches follows MQTT wildcard rules", () => {
  assert.equal(topicMatches("a/+/c", "a/b/c"), true);
  assert.equal(topicMatches("a/+/c", "a/b/d"), false);
  assert.equal(topicMatches("a/#", "a"), true);
  assert.equal(topicMatches("a/#", "a/b/c"), true);
  assert.equal(topicMatches("a/b", "a/b/c"), false);
  assert.equal(topicMatches("+/+", "a/b"), true);
  assert.equal(topicMatches("#", "$SYS/x"), false);
  assert.equal(topicMatches("octolux/cmd/#", "octolux/cmd/set_hold/65"), true);
});

Deno.test("redactUri hides the password", () => {
  assert.equal(redactUri("mqtt://bob:s3cr#t@host:1883"), "mqtt://bob:***@host:1883");
  assert.equal(redactUri("mqtt://host:1883"), "mqtt://host:1883");
});

Deno.test("checkBrokerUri and parseListen name the bad value", () => {
  assert.equal(checkBrokerUri("mqtt://h:1883"), undefined);
  assert.equal(checkBrokerUri("wss://h/mqtt"), undefined);
  assert.match(checkBrokerUri("http://h")!, /unsupported scheme "http"/);
  assert.match(checkBrokerUri("nonsense")!, /not a valid URI: "nonsense"/);
  assert.deepEqual(parseListen("127.0.0.1:1883"), { host: "127.0.0.1", port: 1883 });
  assert.deepEqual(parseListen("1884"), { host: "127.0.0.1", port: 1884 });
  assert.match(parseListen("host:99999") as string, /out of range.*99999/);
  assert.equal(listenUri({ host: "0.0.0.0", port: 1883 }), "mqtt://127.0.0.1:1883");
  assert.equal(listenUri({ host: "::", port: 1884 }), "mqtt://[::1]:1884");
  assert.equal(listenUri(parseListen("1885") as { host: string; port: number }), "mqtt://127.0.0.1:1885");
});

function collect(link: MqttLink, filter: string) {
  const got: MqttMessage[] = [];
  link.subscribe(filter, (m) => got.push(m));
  return got;
}

Deno.test("MqttLink against mosquitto: pub/sub, retained, will, and resubscribe after broker restart", async () => {
  const broker = await startMosquitto();
  const sub = mosquittoSub(broker.port, ["t/#"]);
  const link = new MqttLink({
    uri: broker.url,
    reconnectPeriodMs: 200,
    will: { topic: "t/status", payload: "offline", retain: true, qos: 1 },
  }, silentLogger);
  try {
    const got = collect(link, "in/+");
    await link.start();
    link.publish("t/status", "online", { retain: true, qos: 1 });
    await sub.waitFor((l) => l === "t/status online");
    await mosquittoPub(broker.port, "in/x", "hello");
    await until(() => got.length === 1);
    assert.equal(new TextDecoder().decode(got[0].payload), "hello");
    assert.equal(got[0].retain, false);

    let reconnects = 0;
    link.onConnect(() => reconnects++);
    await broker.restart();
    await until(() => reconnects >= 1, "reconnect", 10000);
    await mosquittoPub(broker.port, "in/y", "after");
    await until(() => got.length === 2, "message after restart", 5000);
    assert.equal(got[1].topic, "in/y");
  } finally {
    await link.stop();
    await sub.stop();
    await broker.stop();
  }
});

Deno.test("MqttLink start rejects at once (exit code 5) when the connection is refused", async () => {
  const { logger } = memoryLogger();
  // A connect timeout far beyond the test's own timeout: the refusal must not wait for it.
  const link = new MqttLink({ uri: "mqtt://127.0.0.1:1", connectTimeoutMs: 600_000 }, logger);
  await withTimeout(
    assert.rejects(link.start(), (e: Error) => {
      assert.ok(e instanceof MqttError && e.kind === "unreachable");
      assert.equal(exitCodeFor(e), 5);
      assert.match(e.message, /127\.0\.0\.1:1 refused the connection/);
      return true;
    }),
    10_000,
    "a refused connection was not reported at once",
  );
  // the failed link is done: starting it again says so instead of waiting for nothing
  await assert.rejects(link.start(), /start\(\) after the link stopped/);
  await link.stop();
});

Deno.test("an unreadable TLS file is a config error (exit 3) naming the key and path", async () => {
  const link = new MqttLink({ uri: "mqtts://127.0.0.1:8883", ca: "/nonexistent/ca.pem" }, silentLogger);
  await assert.rejects(link.start(), (e: Error) => {
    assert.equal(exitCodeFor(e), 3);
    assert.match(e.message, /\[mqtt\] ca: cannot read "\/nonexistent\/ca.pem"/);
    return true;
  });
  await link.stop();
});

Deno.test("embedded broker works with mosquitto_pub/sub and the MqttLink", async () => {
  const broker = new EmbeddedBroker({ host: "127.0.0.1", port: 0 }, silentLogger);
  const { port, url } = await broker.start();
  const link = new MqttLink({ uri: url }, silentLogger);
  const sub = mosquittoSub(port, ["r/#"]);
  try {
    await link.start();
    link.publish("r/kept", "v1", { retain: true, qos: 1 });
    await sub.waitFor((l) => l === "r/kept v1");
    const got = collect(link, "q/#");
    await mosquittoPub(port, "q/a", "x");
    await until(() => got.length === 1);
  } finally {
    await sub.stop();
    await link.stop();
    await broker.stop();
  }
});

/** Runs `fn` with a sender and a receiver link on mosquitto (MQTT 5) and on the embedded aedes (3.1.1). */
async function onBothProtocols(fn: (sender: MqttLink, receiver: MqttLink) => Promise<void>) {
  const mosq = await startMosquitto();
  const embedded = new EmbeddedBroker({ host: "127.0.0.1", port: 0 }, silentLogger);
  const { url: embeddedUrl } = await embedded.start();
  try {
    for (const [url, version] of [[mosq.url, 5], [embeddedUrl, 4]] as const) {
      const sender = new MqttLink({ uri: url }, silentLogger);
      const receiver = new MqttLink({ uri: url }, silentLogger);
      try {
        await sender.start();
        await receiver.start();
        assert.equal(sender.protocolVersion, version);
        await fn(sender, receiver);
      } finally {
        await sender.stop();
        await receiver.stop();
      }
    }
  } finally {
    await embedded.stop();
    await mosq.stop();
  }
}

Deno.test("publishFast frames are well-formed on MQTT 5 (mosquitto) and 3.1.1 (embedded aedes), in order with publish()", async () => {
  await onBothProtocols(async (sender, receiver) => {
    const got: string[] = [];
    await receiver.subscribeAsync(
      "fast/#",
      (m) => got.push(`${m.topic}=${new TextDecoder().decode(m.payload)}`),
    );
    const long = "x".repeat(300); // a two-byte remaining length
    sender.publishFast("fast/a", "1", false);
    sender.publishFast(new TextEncoder().encode("fast/b/ü"), long, false, "fast/b/ü");
    sender.publish("fast/c", "via mqtt.js");
    sender.publishFast("fast/d", "", false);
    await until(() => got.length === 4);
    assert.deepEqual(got, ["fast/a=1", `fast/b/ü=${long}`, "fast/c=via mqtt.js", "fast/d="]);
  });
});

Deno.test("publishFast encodes non-ASCII strings, large payloads and bursts over 64 KiB in order (MQTT 5 and 3.1.1)", async () => {
  await onBothProtocols(async (sender, receiver) => {
    const got: string[] = [];
    const retained: boolean[] = [];
    await receiver.subscribeAsync("burst/#", (m) => {
      got.push(`${m.topic}=${new TextDecoder().decode(m.payload)}`);
      retained.push(m.retain);
    });
    const want: string[] = [];
    // Non-ASCII topic and payload given as strings (UTF-8 through TextEncoder), a surrogate pair included.
    sender.publishFast("burst/ü/€", '{"value": "😀 ß"}', false);
    want.push('burst/ü/€={"value": "😀 ß"}');
    // A payload needing a three-byte remaining length.
    const big = "y".repeat(20_000);
    sender.publishFast("burst/big", big, false);
    want.push(`burst/big=${big}`);
    // 3,000 frames of ~100 bytes in one synchronous burst (> 64 KiB: written in pieces), with a
    // publish() through mqtt.js in the middle that must keep its place.
    for (let i = 0; i < 3000; i++) {
      if (i === 1500) {
        sender.publish("burst/middle", "via mqtt.js");
        want.push("burst/middle=via mqtt.js");
      }
      const payload = `{"value": ${i}, "pad": "${"p".repeat(70)}"}`;
      sender.publishFast(`burst/n/${i % 7}`, payload, false);
      want.push(`burst/n/${i % 7}=${payload}`);
    }
    sender.publishFast("burst/last", "", false);
    want.push("burst/last=");
    await until(() => got.length === want.length, "whole burst", 20_000);
    assert.deepEqual(got, want);
    assert.ok(retained.every((r) => r === false));
  });
});

Deno.test("MQTT 5 retain-as-published: a message published retained is flagged even when delivered live", async () => {
  const mosq = await startMosquitto();
  const link = new MqttLink({ uri: mosq.url }, silentLogger);
  try {
    await link.start();
    const got: MqttMessage[] = [];
    await link.subscribeAsync("cmd/#", (m) => got.push(m));
    await mosquittoPub(mosq.port, "cmd/x", "1", ["-r"]);
    await mosquittoPub(mosq.port, "cmd/y", "2");
    await until(() => got.length === 2);
    assert.deepEqual(got.map((m) => [m.topic, m.retain]), [["cmd/x", true], ["cmd/y", false]]);
    await mosquittoPub(mosq.port, "cmd/x", "", ["-r"]);
  } finally {
    await link.stop();
    await mosq.stop();
  }
});
