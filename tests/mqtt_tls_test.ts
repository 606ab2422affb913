// MQTT URIs against a real mosquitto: mqtts:// with a CA file, ws://, user:password@ in the URI, and
// username/password keys with a password containing # and ; (quoted in the INI) — never logged.

import assert from "node:assert/strict";
import { exitCodeFor } from "../src/cli/errors.ts";
import { MqttLink } from "../src/mqtt/client.ts";
import { memoryLogger, silentLogger } from "../src/log.ts";
import { freePort, startMosquitto } from "./helpers/mosquitto.ts";
import { spawnCli, writeConfig } from "./helpers/cli.ts";

const PASSWORD = "se#cr;t pw";

async function sh(cmd: string, args: string[], cwd: string) {
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "null", stderr: "piped" }).output();
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
}

/** A throw-away CA and a server certificate for 127.0.0.1. */
async function makeCerts(dir: string) {
  await sh("openssl", [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "2",
    "-subj",
    "/CN=ess2mqtt test CA",
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
  ], dir);
  await sh("openssl", [
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-subj",
    "/CN=127.0.0.1",
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
  ], dir);
  await Deno.writeTextFile(`${dir}/san.ext`, "subjectAltName=IP:127.0.0.1\n");
  await sh("openssl", [
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-days",
    "2",
    "-extfile",
    "san.ext",
    "-out",
    "server.crt",
  ], dir);
}

Deno.test("mqtts with a CA file, ws, and credentials with # and ; in the password", async (t) => {
  const tlsPort = freePort();
  const wsPort = freePort();
  let certDir = "";
  const broker = await startMosquitto({
    anonymous: false,
    extra: async (dir) => {
      certDir = dir;
      await makeCerts(dir);
      await sh("mosquitto_passwd", ["-b", "-c", "passwd", "bridge", PASSWORD], dir);
      return [
        `password_file ${dir}/passwd`,
        `listener ${tlsPort} 127.0.0.1`,
        `cafile ${dir}/ca.crt`,
        `certfile ${dir}/server.crt`,
        `keyfile ${dir}/server.key`,
        `listener ${wsPort} 127.0.0.1`,
        "protocol websockets",
      ];
    },
  });
  const link = async (uri: string, o: Partial<ConstructorParameters<typeof MqttLink>[0]> = {}) => {
    const l = new MqttLink({ uri, connectTimeoutMs: 3000, reconnectPeriodMs: 0, ...o }, silentLogger);
    try {
      await l.start();
      return l.connected;
    } finally {
      await l.stop();
    }
  };
  try {
    await t.step("mqtts:// with [mqtt] ca verifies the broker", async () => {
      assert.equal(
        await link(`mqtts://127.0.0.1:${tlsPort}`, {
          ca: `${certDir}/ca.crt`,
          username: "bridge",
          password: PASSWORD,
        }),
        true,
      );
    });
    await t.step(
      "mqtts:// without the CA is refused (exit code 5), unless reject_unauthorized = false",
      async () => {
        await assert.rejects(
          link(`mqtts://127.0.0.1:${tlsPort}`, { username: "bridge", password: PASSWORD }),
          (e: Error) => exitCodeFor(e) === 5,
        );
        assert.equal(
          await link(`mqtts://127.0.0.1:${tlsPort}`, {
            rejectUnauthorized: false,
            username: "bridge",
            password: PASSWORD,
          }),
          true,
        );
      },
    );
    await t.step("ws:// with user:password@ in the URI", async () => {
      assert.equal(await link(`ws://bridge:${encodeURIComponent(PASSWORD)}@127.0.0.1:${wsPort}`), true);
    });
    await t.step("a wrong password is refused with exit code 5, and the password is not logged", async () => {
      const { logger, entries } = memoryLogger();
      const l = new MqttLink({
        uri: `mqtt://bridge:wrong-pw@127.0.0.1:${broker.port}`,
        connectTimeoutMs: 3000,
        reconnectPeriodMs: 0,
      }, logger);
      await assert.rejects(
        l.start(),
        (e: Error) => exitCodeFor(e) === 5 && !e.message.includes("wrong-pw"),
      );
      await l.stop();
      assert.ok(!JSON.stringify(entries).includes("wrong-pw"));
    });
    await t.step("serve with a quoted password containing # and ; connects and never logs it", async () => {
      const cfg = await writeConfig(
        `[mqtt]\nuri = mqtts://127.0.0.1:${tlsPort}\nca = ${certDir}/ca.crt\nusername = bridge\npassword = "${PASSWORD}"\n`,
      );
      const serve = spawnCli(["-c", cfg.path, "-v", "serve"]);
      try {
        await serve.waitFor((l) => l.includes("connected to MQTT broker"));
        await serve.waitFor((l) => l.includes("serving"));
      } finally {
        await serve.stop();
        await cfg.remove();
      }
      assert.ok(!serve.lines.join("\n").includes("se#cr"), "password must not appear in the log");
    });
  } finally {
    await broker.stop();
  }
});
