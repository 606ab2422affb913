// End to end: the real `ess2mqtt tui` in a real terminal (tmux), against the inverter simulator and the
// Venus simulator (on a private dbus-daemon) — once through `ess2mqtt serve` and a mosquitto started here
// (--via mqtt), once talking to both itself (--via direct, no broker). Live values appear, a register
// written through the UI reaches the inverter (and octolux/hold/<reg>), a D-Bus write changes the
// simulator's value, a resize to 80×24 keeps the header, q quits with 0.

import assert from "node:assert/strict";
import { InverterSimulator } from "../src/sim/inverter.ts";
import { VenusSim } from "../src/sim/venus.ts";
import { variantToJson } from "../src/venus/variant.ts";
import { silentLogger } from "../src/log.ts";
import { freePort, mosquittoSub, startMosquitto } from "./helpers/mosquitto.ts";
import { startDbusDaemon } from "./helpers/dbus_daemon.ts";
import { runCli, spawnCli, writeConfig } from "./helpers/cli.ts";
import { startTmux, type TmuxSession } from "./helpers/tmux.ts";
import { until } from "./helpers/wait.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const DENO_JSON = new URL("../deno.json", import.meta.url).pathname;
const SETPOINT = "/Hub4/L1/AcPowerSetpoint";

function tuiArgv(config: string, extra: string[] = []): string[] {
  return [
    Deno.execPath(),
    "run",
    "-A",
    "--quiet",
    "--config",
    DENO_JSON,
    MAIN,
    "-c",
    config,
    "tui",
    ...extra,
  ];
}

async function world() {
  const bus = await startDbusDaemon();
  const venus = new VenusSim({ address: bus.address, logger: silentLogger, tickMs: 1000, nightCycleMs: 0 });
  const inverter = new InverterSimulator({ port: 0, interval: 2 }, silentLogger);
  await venus.start();
  const port = (await inverter.start()).port;
  const sections = `[lxp]\nhost = 127.0.0.1\nport = ${port}\nserial = ${inverter.serial}\n` +
    `datalog = ${inverter.datalog}\n[dbus]\naddress = ${bus.address}\nkeepalive = 60\n`;
  return {
    venus,
    inverter,
    sections,
    setpoint: () => variantToJson(venus.service("vebus").items.get(SETPOINT)!.value),
    async stop() {
      await inverter.stop();
      await venus.stop();
      await bus.stop();
    },
  };
}

/** The walk both sources share: inputs, a register write, a D-Bus write, resize, quit. */
async function operate(
  t: TmuxSession,
  w: Awaited<ReturnType<typeof world>>,
  via: string,
  beforeQuit?: () => Promise<void>,
) {
  // live values: the header says what is connected, inputs arrive (the console asks for them at start)
  let screen = await t.waitFor(
    (s) => s.includes("inverter online") && /Battery voltage\s+\d+(\.\d)? V/.test(s),
    "header and live inputs",
  );
  assert.match(screen, new RegExp(`via ${via}`));
  // colours unless NO_COLOR (the mqtt run sets it): SGR 30–37/90–97 or 38;… foreground codes
  const sgrColour = new RegExp(`${String.fromCharCode(27)}\\[(?:[0-9;]*;)?(?:3[0-7]|9[0-7]|38)[;m]`);
  const colour = sgrColour.test(await t.captureStyled());
  assert.equal(colour, via === "direct", `colours ${colour ? "present" : "absent"} with via ${via}`);
  // holdings: the discharge rate through its command key, range-checked, confirmed
  await t.keys("2");
  await t.waitFor((s) => s.includes("reg name"), "holdings pane");
  await t.keys("r");
  await t.waitFor((s) => s.includes("OK: registers 0–239 read"), "all holding registers read");
  await t.waitFor((s) => /^ +21 Function enable bits +\d+ 0x[0-9A-F]{4} /m.test(s), "register 21 decoded");
  await t.keys("d");
  await t.waitFor((s) => s.includes("65 Discharge rate (0–100)"), "prompt");
  await t.type("150");
  await t.keys("Enter");
  await t.waitFor((s) => s.includes('(got "150")'), "out of range refused");
  await t.keys("BSpace", "BSpace", "BSpace");
  await t.type("42");
  await t.keys("Enter");
  await t.waitFor((s) => s.includes("write 42 to 65 Discharge rate? y/n"), "confirmation");
  await t.keys("y");
  await t.waitFor((s) => s.includes("OK: 65 Discharge rate = 42 %"), "write confirmed");
  assert.equal(w.inverter.holdings[65], 42);
  // D-Bus: filter to the setpoint, write a JSON value with confirmation
  await t.keys("3");
  await t.waitFor((s) => s.includes("vebus/257") && s.includes("MultiPlus"), "D-Bus services");
  await t.type("/hub4/l1/ac");
  await t.keys("Enter");
  await t.waitFor((s) => s.includes("filter: hub4/l1/ac  (1 path)") && s.includes(SETPOINT), "filtered");
  await t.keys("End", "Enter");
  await t.waitFor((s) => s.includes(`vebus/257${SETPOINT} (JSON):`), "JSON prompt");
  for (let i = 0; i < 8; i++) await t.keys("BSpace");
  await t.type("-300");
  await t.keys("Enter");
  await t.waitFor((s) => s.includes(`write -300 to vebus/257${SETPOINT}? y/n`), "D-Bus confirmation");
  await t.keys("y");
  await until(() => w.setpoint() === -300, "the simulator's setpoint = -300", 10000, () => w.setpoint());
  await t.waitFor((s) => new RegExp(`${SETPOINT.replaceAll("/", "\\/")}\\s+-300`).test(s), "new value shown");
  // resize to 80×24: every line fits, the header stays on the first line
  await t.resize(80, 24);
  screen = await t.waitFor((s) => {
    const lines = s.split("\n");
    return /^(ess2mqtt │|.*inverter online)/.test(lines[0]) && lines.slice(0, 24).every((l) =>
      [...l].length <= 80
    ) &&
      lines[1].includes("1 inputs");
  }, "80×24 frame with the header");
  await beforeQuit?.();
  await t.keys("q");
  await until(async () => (await t.exitCode()) !== undefined, "tui exit", 10000);
  assert.equal(await t.exitCode(), 0, await t.stderr());
  // the alternate screen is gone: the terminal shows what it showed before
  assert.doesNotMatch(await t.capture(), /1 inputs/);
}

Deno.test("tui --via mqtt against serve, the simulators and mosquitto", async () => {
  const w = await world();
  const mosq = await startMosquitto();
  const sub = mosquittoSub(mosq.port, ["octolux/hold/65"]);
  let serve: ReturnType<typeof spawnCli> | undefined;
  let t: TmuxSession | undefined;
  const cfg = await writeConfig(`[mqtt]\nuri = ${mosq.url}\n${w.sections}`);
  try {
    serve = spawnCli(["-c", cfg.path, "serve"]);
    await serve.waitFor((l) => l.includes("Venus bridge running"));
    const term = t = await startTmux(tuiArgv(cfg.path), { columns: 120, rows: 36 }, {
      NO_COLOR: "1",
      TERM: "xterm-256color",
    });
    await operate(term, w, "mqtt", async () => {
      await sub.waitFor((l) => l === "octolux/hold/65 42");
      // the broker goes away: STALE in the header, one log line however many retries fail
      await mosq.kill();
      await term.waitFor((s) => /^ STALE: broker lost [3-9] s ago/.test(s), "stale header, 3 s of retries");
      await mosq.restart();
      await term.waitFor((s) => /^ess2mqtt │ broker up/.test(s), "broker back");
      await term.keys("4");
      const log = await term.waitFor((s) => s.includes("info  broker back"), "log pane");
      const lines = log.split("\n");
      // one line per state change, not one per retry: the broker once; the inverter at most once (mosquitto
      // may deliver the bridge's last will, "offline", to the console as it shuts down)
      const warns = lines.filter((l) => / warn /.test(l)).map((l) => l.slice(9, 26));
      assert.deepEqual(warns.filter((l) => l.startsWith("warn  broker")), ["warn  broker lost"]);
      assert.ok(warns.filter((l) => l.startsWith("warn  inverter")).length <= 1, log);
      assert.equal(warns.length, warns.filter((l) => /^warn {2}(broker|inverter) /.test(l)).length, log);
      await term.keys("1");
    });
  } finally {
    await t?.stop();
    await serve?.stop();
    await sub.stop();
    await mosq.stop();
    await cfg.remove();
    await w.stop();
  }
});

Deno.test("tui --via direct: the dongle and the bus without a broker", async () => {
  const w = await world();
  let t: TmuxSession | undefined;
  const cfg = await writeConfig(w.sections);
  try {
    t = await startTmux(tuiArgv(cfg.path, ["--via", "direct"]), { columns: 120, rows: 36 }, {
      TERM: "xterm-256color",
      NO_COLOR: "",
    });
    await operate(t, w, "direct");
  } finally {
    await t?.stop();
    await cfg.remove();
    await w.stop();
  }
});

Deno.test("tui --via direct with the dongle unreachable: STALE, one log line; Ctrl-C exits 130", async () => {
  const port = freePort(); // nothing listens there
  const cfg = await writeConfig(
    `[lxp]\nhost = 127.0.0.1\nport = ${port}\nserial = 0123456789\ndatalog = BA12345678\nconnect_timeout = 1\n`,
  );
  const t = await startTmux(tuiArgv(cfg.path), { columns: 100, rows: 24 }, { TERM: "xterm-256color" });
  try {
    await t.waitFor((s) => /^ STALE: inverter offline [2-9] s ago/.test(s), "stale header after retries");
    await t.keys("4");
    const log = await t.waitFor((s) => s.includes("inverter lost"), "log pane");
    const lines = log.split("\n").filter((l) => / (warn|error) /.test(l));
    assert.equal(lines.filter((l) => l.includes("inverter lost (")).length, 1, lines.join("\n"));
    await t.keys("C-c");
    await until(async () => (await t.exitCode()) !== undefined, "tui exit", 10000);
    assert.equal(await t.exitCode(), 130, await t.stderr());
    assert.doesNotMatch(await t.capture(), /STALE/);
  } finally {
    await t.stop();
    await cfg.remove();
  }
});

Deno.test("tui without a terminal, or with nothing configured, says so and exits 2", async () => {
  const cfg = await writeConfig("[mqtt]\nuri = mqtt://127.0.0.1:1\n");
  const empty = await writeConfig("[log]\nlevel = info\n");
  try {
    const r = await runCli(["-c", cfg.path, "tui"]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /tui needs an interactive terminal/);
    const t = await startTmux(tuiArgv(empty.path), { columns: 100, rows: 10 });
    try {
      await until(async () => (await t.exitCode()) !== undefined, "tui exit", 20000);
      assert.equal(await t.exitCode(), 2);
      assert.match(await t.stderr(), /nothing to show: set \[mqtt\] uri/);
    } finally {
      await t.stop();
    }
  } finally {
    await cfg.remove();
    await empty.remove();
  }
});
