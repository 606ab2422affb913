// Integration: the real CLI (`deno run -A main.ts …` as a subprocess) against the inverter simulator.
import assert from "node:assert/strict";
import type { InverterSimOptions, InverterSimulator } from "../src/sim/inverter.ts";
import { freePort } from "./helpers/mosquitto.ts";
import { runCli, spawnCli } from "./helpers/cli.ts";
import { until } from "./helpers/wait.ts";
import { startTestSimulator, TEST_DATALOG as DL, TEST_SERIAL as SN } from "./helpers/inverter_sim.ts";

const target = (
  port: number,
) => ["--host", "127.0.0.1", "--port", String(port), "--datalog", DL, "--serial", SN];

function simCliTest(
  name: string,
  fn: (sim: InverterSimulator, t: string[]) => Promise<void>,
  opts: InverterSimOptions = {},
) {
  Deno.test({
    name,
    sanitizeOps: true,
    sanitizeResources: true,
    async fn() {
      const { sim, port } = await startTestSimulator({ heartbeatInterval: 0, ...opts });
      try {
        await fn(sim, target(port));
      } finally {
        await sim.stop();
      }
    },
  });
}

simCliTest("read-hold: human output with number, name, scaled value; --json", async (sim, t) => {
  let r = await runCli(["read-hold", "21", ...t]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^hold\s+21\s+Function enable bits\s+0xF354\s+\(raw 62292\)/m);
  assert.match(r.stdout, /off: .*ac_charge_en/);
  r = await runCli(["read-hold", "64", "--count", "4", "--json", ...t]);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.deepEqual(doc.values, [100, 100, 100, 100]);
  assert.equal(doc.register, 64);
  assert.equal(doc.registers[0].unit, "%");
  assert.equal(doc.registers[0].value, 100);
  // global --json before the command works as well
  r = await runCli(["--json", "read-hold", "21", ...t]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).registers[0].bits.ac_charge_en, false);
  assert.equal(sim.stats.writes, 0);
});

simCliTest("read-input 1 and all", async (sim, t) => {
  let r = await runCli(["read-input", "1", ...t]);
  assert.equal(r.code, 0, r.stderr);
  // one line per key of inputs/1: key, value with unit, the register table's name
  assert.match(r.stdout, /^v_bat +\d+(\.\d+)? V +Battery voltage$/m);
  r = await runCli(["read-input", "all", "--json", ...t]);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  // the same shape over LXP and over MQTT (cli_mqtt_test): bank, block and the octolux JSON only
  assert.deepEqual(Object.keys(doc), ["bank", "block", "inputs"]);
  assert.equal(doc.block, "all");
  assert.ok(Object.keys(doc.inputs).length > 40);
  assert.equal(sim.stats.reads, 5);
});

simCliTest("write-hold and set change the inverter; echo verified", async (sim, t) => {
  let r = await runCli(["write-hold", "64", "55", ...t]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /hold 64 .*:= 55: OK, echo 55/);
  assert.equal(sim.holdings[64], 55);
  r = await runCli(["set", "ac_charge", "on", "--json", ...t]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), {
    ok: true,
    command: "ac_charge",
    value: true,
    register: 21,
    bit: 7,
    result: 62292 | 0x80,
  });
  assert.equal(sim.holdings[21], 62292 | 0x80);
  r = await runCli(["set", "discharge_pct", "0", "--json", ...t]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), {
    ok: true,
    command: "discharge_pct",
    value: 0,
    register: 65,
    result: 0,
  });
  assert.equal(sim.holdings[65], 0);
  r = await runCli(["set", "ac_charge", "off", ...t]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(sim.holdings[21], 62292);
  // CLI booleans are strict: on off true false 1 0 yes no y n t f (any case); anything else exits 2
  r = await runCli(["set", "forced_discharge", "YES", ...t]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(sim.holdings[21], 62292 | 0x400);
  r = await runCli(["set", "forced_discharge", "N", ...t]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /forced_discharge off/);
  assert.equal(sim.holdings[21], 62292);
  const writes = sim.stats.writes;
  r = await runCli(["set", "ac_charge", "maybe", ...t]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /ac_charge takes one of .* \(got "maybe"\)/);
  assert.equal(sim.stats.writes, writes, "nothing sent");
});

simCliTest("usage errors exit 2, name the value and send nothing", async (sim, t) => {
  const cases: [string[], RegExp][] = [
    [["set", "charge_pct", "150"], /150/],
    [["set", "charge_pct", "50.5"], /50\.5/],
    [["set", "bogus", "1"], /bogus/],
    [["write-hold", "64", "70000"], /70000/],
    [["write-hold", "abc", "1"], /abc/],
    [["read-hold", "21", "--count", "200"], /200/],
    [["read-input", "5"], /"5"/],
    [["read-hold", "21", "--via", "carrier-pigeon"], /carrier-pigeon/],
  ];
  for (const [args, re] of cases) {
    const r = await runCli([...args, ...t]);
    assert.equal(r.code, 2, `${args.join(" ")}: exit ${r.code} ${r.stderr}`);
    assert.match(r.stderr, re, args.join(" "));
    assert.equal(r.stdout, "");
  }
  const bad = await runCli(["read-hold", "21", ...t.slice(0, 6), "--serial", "short"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /short/);
  assert.equal(sim.stats.connections, 0, "nothing was even connected");
  assert.equal(sim.received.length, 0);
});

simCliTest("exception reply exits 6, echo mismatch exits 6", async (sim, t) => {
  sim.setFaults({ exceptionRegisters: [21], exceptionCode: 3 });
  let r = await runCli(["read-hold", "21", ...t]);
  assert.equal(r.code, 6, r.stderr);
  assert.match(r.stderr, /illegal data value/);
  r = await runCli(["set", "ac_charge", "on", ...t]);
  assert.equal(r.code, 6, r.stderr);
  assert.equal(sim.stats.writes, 0, "the read failed, so nothing was written");
  sim.setFaults({ exceptionRegisters: [], corruptEcho: true });
  r = await runCli(["write-hold", "66", "70", "--json", ...t]);
  assert.equal(r.code, 6, r.stderr);
  assert.match(r.stderr, /wrote 70, inverter echoed 71/);
  // with --json, stdout carries the error as well
  const err = JSON.parse(r.stdout).error;
  assert.equal(err.code, 6);
  assert.match(err.message, /wrote 70, inverter echoed 71/);
  assert.equal(sim.stats.writes, 1, "written exactly once");
});

simCliTest("silent dongle exits 4 after --timeout", async (sim, t) => {
  sim.setFaults({ silent: true });
  const r = await runCli(["read-hold", "21", "--timeout", "0.5", ...t]);
  assert.equal(r.code, 4, r.stderr);
  assert.match(r.stderr, /no reply within 500 ms/);
  const w = await runCli(["write-hold", "64", "1", "--timeout", "0.5", ...t]);
  assert.equal(w.code, 4, w.stderr);
  assert.equal(sim.received.filter((p) => p.fn === 6).length, 1, "write sent once");
});

simCliTest(
  "Ctrl-C while waiting on a silent dongle exits 130 at once, not after --timeout",
  async (sim, t) => {
    sim.setFaults({ silent: true });
    const child = spawnCli(["read-hold", "21", "--timeout", "20", ...t]);
    await until(() => sim.received.length > 0, "the request at the simulator");
    // stop() sends SIGKILL after 10 s, which would exit 137: 130 means the command ended on SIGINT itself
    assert.equal(await child.stop("SIGINT"), 130);
    assert.equal(sim.stats.writes, 0);
  },
);

Deno.test({
  name:
    "unreachable port exits 4; missing [lxp] config exits 3 with --via lxp, 5 with the default mqtt and no broker",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const port = freePort();
    let r = await runCli(["read-hold", "21", ...target(port)]);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, new RegExp(`127\\.0\\.0\\.1:${port}`));
    const dir = await Deno.makeTempDir();
    try {
      r = await runCli(["read-hold", "21", "--via", "lxp"], { cwd: dir });
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /\[lxp\]/);
      // without [lxp] the default transport is mqtt: no broker → exit 5
      r = await runCli(["read-hold", "21", "--timeout", "1"], { cwd: dir });
      assert.equal(r.code, 5, r.stderr);
      // an [lxp] section supplies the target
      await Deno.writeTextFile(
        `${dir}/config.ini`,
        `[lxp]\nhost = 127.0.0.1\nport = ${port}\nserial = ${SN}\ndatalog = ${DL}\n`,
      );
      r = await runCli(["read-hold", "21", "--timeout", "2"], { cwd: dir });
      assert.equal(r.code, 4, r.stderr);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "lxp decode prints fields and named registers",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const write = "a1 1a 02 00 20 00 01 c2 32 32 32 32 32 32 32 32 32 32 12 00 01 06 " +
      "35 35 35 35 35 35 35 35 35 35 42 00 64 00 49 ad";
    let r = await runCli(["lxp", "decode", ...write.split(" ")]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /reply \(address 1\), function 0x06 write single, inverter 5555555555, register 66/,
    );
    assert.match(r.stdout, /hold\s+66\s+AC charge rate\s+100 %/);
    const input =
      "a11a02006f0001c2323232323232323232326100010435353535353535353535000050100000000000020010025300002f000000000000000000022509010104008c13f6010000e700e8032509000040008c130000000000000000000000000000160016001500160000000000de00420e810c2490";
    r = await runCli(["--json", "lxp", "decode", input]);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.bytes, 117);
    assert.equal(doc.function, "read input");
    assert.equal(doc.count, 40);
    const vbat = doc.registers.find((e: { key: string }) => e.key === "v_bat");
    assert.equal(vbat.value, 52.8);
    assert.equal(vbat.unit, "V");
    assert.equal(doc.inputs["1"].soc, 83);
    r = await runCli(["lxp", "decode", "a11a0200"]);
    assert.equal(r.code, 2);
    r = await runCli(["lxp", "decode", "zz"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /zz/);
  },
});

Deno.test({
  name: "sim inverter subcommand: prints the port, serves, exits 0 on SIGTERM",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const sim = spawnCli(["sim", "inverter", "--port", "0", "--json", "--interval", "0"]);
    try {
      // the JSON document of the listening line, pretty-printed over several lines: wait for its end
      await sim.waitFor((l) => l === "}");
      const info = JSON.parse(sim.lines.slice(sim.lines.indexOf("{")).join("\n"));
      assert.equal(info.host, "127.0.0.1");
      assert.ok(info.port > 0);
      assert.equal(info.datalog, "BA12345678");
      const r = await runCli([
        "read-hold",
        "2",
        "--count",
        "5",
        "--json",
        ...[
          "--host",
          "127.0.0.1",
          "--port",
          String(info.port),
          "--datalog",
          info.datalog,
          "--serial",
          info.serial,
        ],
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).values.length, 5);
    } finally {
      assert.equal(await sim.stop("SIGTERM"), 0);
    }
    const bad = await runCli(["sim", "inverter", "--firmware", "ancient", "--port", "0"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /ancient/);
  },
});
