// Field captures: the wire cutter and the capture file format (pure), then the whole loop through the real
// CLI — `lxp capture` against the simulator, `lxp decode --file`, and `sim inverter --replay` behind a real
// `serve`, whose MQTT output (inputs/N and hold/<reg>) must be the same as against the original simulator.

import assert from "node:assert/strict";
import fc from "fast-check";
import { captureLine, type CaptureRecord, parseCapture, WireCutter } from "../src/lxp/capture.ts";
import { fromHex } from "../src/lxp/frame.ts";
import { planReplay } from "../src/sim/replay.ts";
import { V } from "./fixtures/lxp_vectors.ts";
import { mosquittoPub, mosquittoSub, startMosquitto } from "./helpers/mosquitto.ts";
import { runCli, spawnCli, writeConfig } from "./helpers/cli.ts";
import {
  startTestSimulator,
  TEST_DATALOG as DATALOG,
  TEST_SERIAL as SERIAL,
} from "./helpers/inverter_sim.ts";
import { until } from "./helpers/wait.ts";

const FRAMES = [
  V.heartbeat,
  V.readHold12x3Request,
  V.readHold12x3Reply,
  V.writeMulti12Request,
  V.writeMulti12Reply,
]
  .map((h) => fromHex(h.replaceAll(" ", "")));

Deno.test("property: the wire cutter finds every frame however the stream is chunked, garbage kept apart", () => {
  fc.assert(fc.property(
    fc.array(fc.nat(FRAMES.length - 1), { minLength: 1, maxLength: 8 }),
    fc.array(fc.nat(40), { maxLength: 10 }),
    fc.uint8Array({ minLength: 0, maxLength: 5 }).map((g) => g.map((b) => (b === 0xa1 ? 0x55 : b))),
    (picks, cuts, garbage) => {
      const frames = picks.map((i) => FRAMES[i]);
      const stream = new Uint8Array([...garbage, ...frames.flatMap((f) => [...f])]);
      const cutter = new WireCutter();
      const pieces = [];
      let off = 0;
      for (const c of cuts) {
        pieces.push(...cutter.push(stream.slice(off, off + c)));
        off = Math.min(stream.length, off + c);
      }
      pieces.push(...cutter.push(stream.slice(off)), ...cutter.flush());
      assert.deepEqual(pieces.filter((p) => !p.bad).map((p) => [...p.bytes]), frames.map((f) => [...f]));
      assert.deepEqual(pieces.filter((p) => p.bad).flatMap((p) => [...p.bytes]), [...garbage]);
    },
  ));
});

Deno.test("capture lines: JSON with time, direction, hex; a bad line is named", () => {
  const line = captureLine(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6)), "in", {
    bytes: FRAMES[0],
    bad: false,
  });
  const rec: CaptureRecord = JSON.parse(line);
  assert.deepEqual(rec, { t: "2026-01-02T03:04:05.006Z", dir: "in", hex: V.heartbeat });
  const [parsed] = parseCapture(line + "\n\n");
  assert.deepEqual([...parsed.bytes], [...FRAMES[0]]);
  assert.throws(() => parseCapture(`${line}\nnot json\n`, "x.jsonl"), /x\.jsonl line 2: not JSON/);
  assert.throws(() => parseCapture(`{"dir":"up","hex":"00"}`, "x.jsonl"), /x\.jsonl line 1: needs "dir"/);
  assert.throws(() => parseCapture(`{"dir":"in","hex":"zz"}`, "x.jsonl"), /x\.jsonl line 1: .*invalid hex/);
  assert.throws(() => planReplay(parseCapture(line)), /no translated frame/);
});

const FIXED = new Date(Date.UTC(2026, 5, 21, 12, 0, 0)); // a sunny noon: PV, charge, all non-zero

/** Publishes each command and collects topic → payload of inputs/N and hold/<reg> up to its result. */
async function mqttOutput(brokerPort: number, commands: [string, string][]): Promise<Record<string, string>> {
  const sub = mosquittoSub(brokerPort, ["octolux/#"]);
  try {
    await sub.waitFor((l) => l === "octolux/status online");
    const seen: Record<string, string> = {};
    for (const [cmd, payload] of commands) {
      const from = sub.lines.length;
      await mosquittoPub(brokerPort, `octolux/cmd/${cmd}`, payload);
      await sub.waitFor((l) => sub.lines.indexOf(l, from) >= from && l === `octolux/result/${cmd} OK`);
      const end = sub.lines.indexOf(`octolux/result/${cmd} OK`, from);
      for (const l of sub.lines.slice(from, end)) {
        const [topic, ...rest] = l.split(" ");
        if (/^octolux\/(inputs\/\d|hold\/\d+)$/.test(topic)) seen[topic] = rest.join(" ");
      }
    }
    return seen;
  } finally {
    await sub.stop();
  }
}

async function serveAgainst(port: number, brokerUrl: string) {
  const cfg = await writeConfig(
    `[mqtt]\nuri = ${brokerUrl}\n[lxp]\nhost = 127.0.0.1\nport = ${port}\nserial = ${SERIAL}\ndatalog = ${DATALOG}\ncommand_timeout = 3\n`,
  );
  const serve = spawnCli(["-c", cfg.path, "serve"]);
  await serve.waitFor((l) => l.includes("connected to dongle"));
  return {
    async stop() {
      await serve.stop();
      await cfg.remove();
    },
  };
}

const COMMANDS: [string, string][] = [
  ["read_input", "1"],
  ["read_input", "2"],
  ["read_input", "3"],
  ["read_input", "4"],
  ["read_hold", "0,40"],
  ["read_hold", "40,40"],
  ["read_hold", "160,40"],
  // not in the capture as such: answered from the register file the capture shows
  ["read_hold", "21"],
  ["read_hold", "68,2"],
];

Deno.test("capture → replay: the same MQTT output, answers and broadcasts", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "ess2mqtt-capture-" });
  const file = `${dir}/dongle.jsonl`;
  const mosq = await startMosquitto();
  const { sim, port } = await startTestSimulator({
    clock: () => FIXED,
    physics: false, // values hold still between the capture and the comparison
    heartbeatInterval: 0,
  });
  const lxpArgs = ["--host", "127.0.0.1", "--port", String(port), "--datalog", DATALOG, "--serial", SERIAL];
  try {
    let original: Record<string, string> = {};
    await t.step("lxp capture records the register file and a broadcast", async () => {
      const capture = runCli(["lxp", "capture", file, "--duration", "2", ...lxpArgs]);
      await until(() => sim.stats.reads >= 10, "the capture's reads (6 holding + 4 input blocks)", 10000);
      sim.broadcastInputs();
      const r = await capture;
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^captured \d+ frames to /);
      const records = parseCapture(await Deno.readTextFile(file));
      assert.equal(records.filter((x) => x.dir === "out").length, 10);
      assert.equal(records.filter((x) => x.dir === "in").length, 13, "10 replies + 3 broadcast frames");
    });

    await t.step("lxp decode --file decodes every record", async () => {
      const r = await runCli(["--json", "lxp", "decode", "--file", file]);
      assert.equal(r.code, 0, r.stderr);
      const doc = JSON.parse(r.stdout);
      assert.equal(doc.frames.length, 23);
      assert.deepEqual(doc.frames[0].dir, "out");
      assert.equal(doc.frames[0].function, "read hold");
      assert.ok(doc.frames.every((f: { error?: string }) => f.error === undefined));
    });

    await t.step("serve against the original simulator", async () => {
      const serve = await serveAgainst(port, mosq.url);
      try {
        original = await mqttOutput(mosq.port, COMMANDS);
      } finally {
        await serve.stop();
      }
      assert.equal(Object.keys(original).length, 4 + 120);
    });
    await sim.stop();

    await t.step(
      "serve against `sim inverter --replay`: same inputs/N and hold/<reg>, broadcasts replayed",
      async () => {
        const replay = spawnCli(["sim", "inverter", "--replay", file, "--port", "0", "--speed", "4"]);
        try {
          const line = await replay.waitFor((l) => /^listening 127\.0\.0\.1:\d+/.test(l));
          const replayPort = Number(/:(\d+)/.exec(line)![1]);
          const sub = mosquittoSub(mosq.port, ["octolux/inputs/#"]);
          const serve = await serveAgainst(replayPort, mosq.url);
          try {
            // The captured broadcast arrives unasked, with the captured values.
            const broadcast = await sub.waitFor((l) => l.startsWith("octolux/inputs/1 "));
            assert.equal(broadcast, `octolux/inputs/1 ${original["octolux/inputs/1"]}`);
            const replayed = await mqttOutput(mosq.port, COMMANDS);
            assert.deepEqual(replayed, original);
          } finally {
            await serve.stop();
            await sub.stop();
          }
        } finally {
          assert.equal(await replay.stop("SIGINT"), 0);
        }
      },
    );
  } finally {
    await sim.stop();
    await mosq.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
