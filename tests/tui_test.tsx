// The operator console: the pure state/keys/edit modules, and the ink component rendered with
// ink-testing-library — each pane to an exact frame at 80×24 and 160×48 (golden files in
// tests/fixtures/tui/, rewritten with UPDATE_GOLDEN=1 and reviewed by eye), keys that move, filter,
// open the write prompt, refuse an out-of-range value, confirm and send the expected operation.

import assert from "node:assert/strict";
import { render } from "ink-testing-library";
import { Dashboard } from "../src/tui/app.tsx";
import { Store } from "../src/tui/store.ts";
import { applyEvent, emptyState, mqttEvents, staleness } from "../src/tui/state.ts";
import { parseJsonInput, parseRegisterInput, writeQuestion } from "../src/tui/edit.ts";
import { dbusRows, handleKey, HOLD_ROWS, initialUi, keepaliveFilters, type UiState } from "../src/tui/ui.ts";
import { chooseVia } from "../src/tui/run.ts";
import { powerFlow } from "../src/tui/view.ts";
import type { Effect } from "../src/tui/ui.ts";
import type { EffectRunner, Outcome } from "../src/tui/effects.ts";
import { inputsJson } from "../src/lxp/inputs.ts";
import { TuiError } from "../src/tui/errors.ts";
import { dedupLogger } from "../src/tui/source.ts";
import { memoryLogger } from "../src/log.ts";
import type { Config } from "../src/config.ts";
import { until } from "./helpers/wait.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const NOW = Date.UTC(2026, 11, 1, 12, 0, 0);
const PORTAL = "e0ff50a097c0";

/** Input registers 0–119 of a charging inverter (spec §3 units: V ×10, Hz ×100). */
function inputRegisters(): (reg: number) => number {
  const r: Record<number, number> = {
    0: 0x0c, // PV charge + on-grid
    1: 3124,
    2: 3100,
    4: 525, // 52.5 V
    5: 65 | (98 << 8), // SOC 65 %, SOH 98 %
    7: 1424,
    8: 950,
    10: 1800, // charge
    12: 2355,
    15: 5002,
    16: 300,
    26: 274, // export
    28: 52,
    64: 41,
    65: 38,
  };
  return (reg) => r[reg] ?? 0;
}

function sampleStore(via: "mqtt" | "direct" = "mqtt"): Store {
  const s = emptyState(via, via === "mqtt" ? "mqtt://broker:1883" : "10.0.0.5:8000", "octolux", NOW - 60_000);
  const at = (ms: number, ev: Parameters<typeof applyEvent>[1]) => applyEvent(s, ev, NOW - ms);
  at(50_000, { kind: "link", link: "broker", up: true });
  at(50_000, { kind: "link", link: "inverter", up: true });
  at(40_000, { kind: "inputs", block: 1, json: inputsJson(1, inputRegisters()) });
  at(40_000, { kind: "inputs", block: 2, json: inputsJson(2, inputRegisters()) });
  const later = inputRegisters();
  at(12_000, { kind: "inputs", block: 1, json: inputsJson(1, (r) => (r === 4 ? 526 : later(r))) });
  at(30_000, { kind: "hold", register: 19, values: [0, 3, 62292, 1100] }); // 21 = 0xF354
  at(30_000, { kind: "hold", register: 64, values: [100, 50, 100, 90, 6 + 30 * 256, 7 + 0 * 256] });
  at(3_000, { kind: "hold", register: 65, values: [35] });
  for (
    const [topic, payload] of [
      [`N/${PORTAL}/system/0/Serial`, `{"value": "${PORTAL}"}`],
      [`N/${PORTAL}/vebus/257/ProductName`, '{"value": "MultiPlus-II 48/5000/70-50"}'],
      [`N/${PORTAL}/vebus/257/DeviceInstance`, '{"value": 257}'],
      [`N/${PORTAL}/vebus/257/Hub4/L1/AcPowerSetpoint`, '{"value": -200}'],
      [`N/${PORTAL}/vebus/257/Dc/0/Voltage`, '{"value": 52.1}'],
      [`N/${PORTAL}/pvinverter/20/ProductName`, '{"value": "Fronius Symo"}'],
      [`N/${PORTAL}/pvinverter/20/Ac/Power`, '{"value": 936}'],
      [`N/${PORTAL}/pvinverter/20/Ac/L2/Power`, '{"value": null}'],
      [`N/${PORTAL}/battery/512/ProductName`, '{"value": "Lynx Smart BMS"}'],
      [`N/${PORTAL}/battery/512/Soc`, '{"value": 65}'],
      [`N/${PORTAL}/battery/512/ProductName`, ""], // the battery left the bus
    ]
  ) {
    for (const ev of mqttEvents("octolux", topic, enc(payload))) applyEvent(s, ev, NOW - 5_000);
  }
  return new Store(s, [
    {
      time: new Date(NOW - 10_000),
      level: "info",
      msg: "connected to MQTT broker",
      fields: { broker: "mqtt://broker" },
    },
    { time: new Date(NOW - 4_000), level: "warn", msg: "broker lost", fields: { component: "tui" } },
  ]);
}

interface Harness {
  frame(): string;
  press(keys: string): void;
  waitFor(pred: (frame: string) => boolean, what: string): Promise<string>;
  effects: Effect[];
  done(): void;
}

const ESC = "\x1b";
const KEYS: Record<string, string> = {
  "<down>": `${ESC}[B`,
  "<up>": `${ESC}[A`,
  "<enter>": "\r",
  "<esc>": ESC,
  "<bs>": "\x7f",
  "<end>": `${ESC}[F`,
};

function mount(
  store: Store,
  size: { columns: number; rows: number },
  initial: Partial<UiState> = {},
  answer: (e: Effect) => Outcome = () => ({ text: "OK", ok: true }),
): Harness {
  const effects: Effect[] = [];
  const run: EffectRunner = (e) => {
    effects.push(e);
    return Promise.resolve(answer(e));
  };
  const ui = render(
    <Dashboard store={store} run={run} now={() => NOW} initial={initial} minRedrawMs={0} {...size} />,
  );
  const frame = () => ui.lastFrame() ?? "";
  return {
    frame,
    effects,
    press(keys) {
      // one key per write, as a terminal delivers them when typed
      for (const k of keys.match(/<[a-z]+>|./g) ?? []) ui.stdin.write(KEYS[k] ?? k);
    },
    async waitFor(pred, what) {
      await until(() => pred(frame()), what, 5000, () => frame());
      return frame();
    },
    done() {
      ui.unmount();
      ui.cleanup();
    },
  };
}

const GOLDEN = new URL("./fixtures/tui/", import.meta.url);

async function assertGolden(name: string, frame: string) {
  const file = new URL(`${name}.txt`, GOLDEN);
  if (Deno.env.get("UPDATE_GOLDEN")) {
    await Deno.mkdir(GOLDEN, { recursive: true });
    await Deno.writeTextFile(file, frame);
  }
  assert.equal(frame, await Deno.readTextFile(file), `frame ${name} differs from ${file.pathname}`);
}

function checkSize(frame: string, size: { columns: number; rows: number }) {
  const lines = frame.split("\n");
  assert.equal(lines.length, size.rows, `${size.rows} lines`);
  for (const l of lines) assert.ok([...l].length <= size.columns, `line wider than ${size.columns}: ${l}`);
}

// ---------------------------------------------------------------------------------------------------------
// pure parts

Deno.test("state: the bridges' topics fold into the state; a link change is noted once", () => {
  const s = emptyState("mqtt", "mqtt://x", "octolux", 0);
  const fold = (topic: string, payload: string, now = 1000) => {
    const notes: (string | undefined)[] = [];
    for (const ev of mqttEvents("octolux", topic, enc(payload))) notes.push(applyEvent(s, ev, now));
    return notes.filter(Boolean);
  };
  fold("octolux/inputs/1", '{"status":32,"v_bat":49.4,"soc":53}');
  fold("octolux/inputs/1", '{"status":32,"v_bat":49.5,"soc":53}', 2000);
  assert.deepEqual(s.inputs[1], { status: 32, v_bat: 49.5, soc: 53 });
  assert.deepEqual([...s.inputsChanged[1]!], ["v_bat"]);
  assert.equal(s.inputsAt[1], 2000);
  fold("octolux/hold/65", "50");
  fold("octolux/hold/65", "50", 5000);
  assert.deepEqual(s.holds.get(65), { raw: 50, at: 5000, changedAt: 1000, changed: false });
  fold("octolux/hold/65", "35", 6000);
  assert.deepEqual(s.holds.get(65), { raw: 35, at: 6000, changedAt: 6000, changed: true });
  assert.deepEqual(fold("octolux/inverter", "online"), []); // unknown → up is not a change worth a line
  assert.deepEqual(fold("octolux/inverter", "offline"), ["inverter lost"]);
  assert.deepEqual(fold("octolux/inverter", "offline"), []); // repeated: no second line
  assert.deepEqual(fold("octolux/inverter", "online"), ["inverter back"]);
  fold(`N/${PORTAL}/pvinverter/20/Ac/L2/Power`, '{"value": null}');
  fold(`N/${PORTAL}/pvinverter/20/ProductName`, '{"value": "Fronius"}');
  assert.equal(s.portal, PORTAL);
  assert.equal(s.services.get("pvinverter/20")!.paths.get("/Ac/L2/Power")!.invalid, true);
  fold(`N/${PORTAL}/pvinverter/20/Ac/L2/Power`, ""); // a cleared path goes
  assert.equal(s.services.get("pvinverter/20")!.paths.has("/Ac/L2/Power"), false);
  fold(`N/${PORTAL}/pvinverter/20/ProductName`, ""); // the identity path cleared: the device left
  assert.equal(s.services.get("pvinverter/20")!.gone, true);
  fold(`N/${PORTAL}/pvinverter/20/Ac/Power`, '{"value": 5}'); // back
  assert.equal(s.services.get("pvinverter/20")!.gone, false);
  assert.equal(applyEvent(s, { kind: "link", link: "dbus", up: false, absent: true }, 8000), undefined);
  assert.equal(s.links.dbus.state, "n/a");
  applyEvent(s, { kind: "link", link: "broker", up: false }, 9000);
  assert.deepEqual(staleness(s), { lxp: true, dbus: true, why: "broker lost" });
});

Deno.test("log: a retry that fails the same way again adds no line", () => {
  const { logger, entries } = memoryLogger();
  const log = dedupLogger(logger);
  for (let i = 0; i < 5; i++) {
    log.warn("MQTT error", { error: "connect ECONNREFUSED" });
    log.warn("MQTT broker connection lost; reconnecting");
  }
  log.info("reconnected to MQTT broker");
  log.warn("MQTT error", { error: "connect ECONNREFUSED" });
  assert.deepEqual(entries.map((e) => e.msg), [
    "MQTT error",
    "MQTT broker connection lost; reconnecting",
    "reconnected to MQTT broker",
    "MQTT error",
  ]);
});

Deno.test("edit: values are range-checked by the register and command tables", () => {
  assert.deepEqual(parseRegisterInput(65, "50"), { ok: true, raw: 50, text: "50 %" });
  const bad = parseRegisterInput(65, "150");
  assert.equal(bad.ok, false);
  assert.match((bad as { error: string }).error, /Discharge rate takes an integer 0–100 % \(got "150"\)/);
  // time slot: hour + 256·minute (spec §4)
  assert.deepEqual(parseRegisterInput(68, "06:30"), { ok: true, raw: 6 + 30 * 256, text: "06:30" });
  assert.equal(parseRegisterInput(68, "24:00").ok, false);
  // bit field: hex or decimal
  assert.equal((parseRegisterInput(21, "0xF354") as { raw: number }).raw, 0xf354);
  // a scaled value in its unit: hold 22 PV start voltage, ×10
  assert.equal((parseRegisterInput(22, "140.5") as { raw: number }).raw, 1405);
  assert.equal(parseRegisterInput(22, "140.55").ok, false);
  assert.equal(parseRegisterInput(22, "7000").ok, false);
  assert.equal(writeQuestion(65, "50"), "write 50 to 65 Discharge rate? y/n");
  assert.deepEqual(parseJsonInput("-200"), { ok: true, json: -200 });
  assert.match((parseJsonInput("abc") as { error: string }).error, /got "abc"/);
});

Deno.test("keys: the keep-alive covers the identity paths and the expanded services", () => {
  const ui = { ...initialUi(), expanded: new Set(["vebus/257"]) };
  assert.deepEqual(keepaliveFilters(ui), [
    "+/+/ProductName",
    "+/+/CustomName",
    "+/+/DeviceInstance",
    "vebus/257/#",
  ]);
  assert.deepEqual(keepaliveFilters({ ...ui, pane: "dbus", filter: "Ac" }), ["#"]);
});

Deno.test("via: mqtt when a broker is configured, direct with only devices, else a clear error", () => {
  const base = { mqtt: { uri: "" }, log: { level: "info" } } as unknown as Config;
  assert.throws(() => chooseVia(base), (e) => e instanceof TuiError && e.kind === "nothing-to-show");
  assert.throws(() => chooseVia(base, "direct"), /--via direct needs \[lxp\] host/);
  assert.equal(chooseVia({ ...base, mqtt: { uri: "mqtt://b" } } as Config), "mqtt");
  assert.equal(chooseVia({ ...base, lxp: {} } as Config), "direct");
  assert.equal(chooseVia({ ...base, lxp: {} } as Config, "mqtt"), "mqtt");
});

Deno.test("power flow: PV → battery / grid / load with signs", () => {
  assert.equal(
    powerFlow({ p_pv: 2374, p_battery: 1800, p_grid: -274 }),
    "PV 2374 W → battery +1800 W charging · grid −274 W export · load 300 W",
  );
});

// ---------------------------------------------------------------------------------------------------------
// frames

const SIZES = [{ columns: 80, rows: 24 }, { columns: 160, rows: 48 }];

for (const size of SIZES) {
  const tag = `${size.columns}x${size.rows}`;
  Deno.test(`frame ${tag}: inputs, holdings (21 expanded to named bits), D-Bus, help`, async () => {
    const cases: [string, Partial<UiState>][] = [
      ["inputs", { pane: "inputs" }],
      ["holdings", {
        pane: "holdings",
        cursor: { ...initialUi().cursor, holdings: HOLD_ROWS.indexOf(21) },
        scroll: { ...initialUi().scroll, holdings: HOLD_ROWS.indexOf(15) },
      }],
      ["dbus", { pane: "dbus", expanded: new Set(["vebus/257", "pvinverter/20"]) }],
      ["help", { mode: { kind: "help" } }],
    ];
    for (const [name, initial] of cases) {
      const h = mount(sampleStore(), size, initial);
      try {
        const frame = await h.waitFor((f) => f.split("\n").length === size.rows, `${name} frame`);
        checkSize(frame, size);
        await assertGolden(`${name}_${tag}`, frame);
      } finally {
        h.done();
      }
    }
  });
}

Deno.test("frame 80x24: the broker lost → STALE in the header and stale values", async () => {
  const store = sampleStore();
  applyEvent(store.state, { kind: "link", link: "broker", up: false }, NOW - 12_000);
  const h = mount(store, SIZES[0]);
  try {
    const frame = await h.waitFor((f) => f.includes("STALE"), "stale header");
    assert.match(frame.split("\n")[0], /^ STALE: broker lost 12 s ago {2}broker down │ inverter online │/);
    assert.match(frame, /Status PV charge \+ on-grid \(12\) \(stale\)/);
    await assertGolden("stale_80x24", frame);
  } finally {
    h.done();
  }
});

// ---------------------------------------------------------------------------------------------------------
// keys

Deno.test("keys: holdings — move, write prompt, out-of-range refused, confirm, send", async () => {
  const h = mount(sampleStore(), SIZES[0], { pane: "holdings" });
  try {
    await h.waitFor((f) => f.includes("   0 Model bits (low)"), "holdings table");
    h.press("<down><down>");
    await h.waitFor((f) => f.includes("── 2 serial_num_1"), "cursor on 2");
    h.press("<end>");
    await h.waitFor((f) => f.includes(`── ${HOLD_ROWS.at(-1)} `), "cursor on the last register");
    // the named command key for the discharge rate opens the prompt of register 65
    h.press("d");
    await h.waitFor((f) => f.includes("65 Discharge rate (0–100): █"), "prompt");
    h.press("150<enter>");
    await h.waitFor((f) => f.includes('Discharge rate takes an integer 0–100 % (got "150")'), "range error");
    assert.deepEqual(h.effects, []);
    h.press("<bs><bs><bs>50<enter>");
    await h.waitFor((f) => f.includes("write 50 to 65 Discharge rate? y/n"), "confirmation");
    h.press("n");
    await h.waitFor((f) => f.includes("cancelled"), "cancelled");
    assert.deepEqual(h.effects, []);
    h.press("d50<enter>y");
    await h.waitFor((f) => f.includes("OK"), "outcome");
    assert.deepEqual(h.effects, [{ kind: "writeHold", register: 65, value: 50, label: "Discharge rate" }]);
    // a boolean command: one key + confirmation; bit 7 of 0xF354 is off → turn on
    h.press("a");
    await h.waitFor((f) => f.includes("turn AC charge on? y/n"), "AC charge confirmation");
    h.press("y");
    await until(() => h.effects.length === 2, "setBit effect");
    assert.deepEqual(h.effects[1], { kind: "setBit", register: 21, bit: 7, on: true, label: "AC charge" });
    h.press("r");
    await until(() => h.effects.length === 3, "read effect");
    assert.deepEqual(h.effects[2], { kind: "readHolds" });
  } finally {
    h.done();
  }
});

Deno.test("keys: a FAIL outcome is shown", async () => {
  const h = mount(
    sampleStore(),
    SIZES[0],
    { pane: "holdings" },
    () => ({ text: "FAIL: timeout", ok: false }),
  );
  try {
    h.press("c");
    await h.waitFor((f) => f.includes("64 Charge rate (0–100)"), "prompt");
    h.press("80<enter>y");
    await h.waitFor((f) => f.includes("FAIL: timeout"), "failure");
    assert.deepEqual(h.effects, [{ kind: "writeHold", register: 64, value: 80, label: "Charge rate" }]);
  } finally {
    h.done();
  }
});

Deno.test("keys: D-Bus — expand, filter, write a JSON value with confirmation, re-read", async () => {
  const store = sampleStore();
  const h = mount(store, SIZES[0], { pane: "dbus" });
  try {
    await h.waitFor((f) => f.includes("▸ battery/512") && f.includes("(left the bus)"), "services");
    // rows: battery/512, pvinverter/20, system/0, vebus/257 → expand vebus
    h.press("<down><down><down><enter>");
    await h.waitFor((f) => f.includes("▾ vebus/257") && f.includes("/Hub4/L1/AcPowerSetpoint"), "expanded");
    h.press("/power");
    await h.waitFor((f) => f.includes("filter: power  (3 paths)"), "filter");
    const rows = dbusRows(store.state, { expanded: new Set(), filter: "power" });
    assert.deepEqual(
      rows.filter((r) => r.kind === "path").map((r) => r.service + (r.kind === "path" ? r.path : "")),
      [
        "pvinverter/20/Ac/L2/Power",
        "pvinverter/20/Ac/Power",
        "vebus/257/Hub4/L1/AcPowerSetpoint",
      ],
    );
    h.press("<enter><end><enter>");
    await h.waitFor(
      (f) => f.includes("vebus/257/Hub4/L1/AcPowerSetpoint (JSON): -200█"),
      "prompt with the value",
    );
    h.press("<bs><bs><bs><bs>abc<enter>");
    await h.waitFor((f) => f.includes('not a JSON value (got "abc")'), "JSON error");
    h.press("<bs><bs><bs>-150<enter>");
    await h.waitFor((f) => f.includes("write -150 to vebus/257/Hub4/L1/AcPowerSetpoint? y/n"), "confirm");
    h.press("y");
    await until(() => h.effects.length === 1, "write effect");
    assert.deepEqual(h.effects[0], {
      kind: "dbusWrite",
      service: "vebus/257",
      path: "/Hub4/L1/AcPowerSetpoint",
      json: -150,
    });
    h.press("R");
    await until(() => h.effects.length === 2, "read effect");
    assert.deepEqual(h.effects[1], {
      kind: "dbusRead",
      service: "vebus/257",
      path: "/Hub4/L1/AcPowerSetpoint",
    });
    h.press("<esc>");
    await h.waitFor((f) => f.includes("4 services"), "filter cleared");
  } finally {
    h.done();
  }
});

Deno.test("keys: q quits, Ctrl-C interrupts, n asks for the next inverter", () => {
  const ctx = { state: sampleStore().state, visible: 10, logLength: 0 };
  assert.deepEqual(handleKey(initialUi(), "q", {}, ctx).effect, { kind: "quit" });
  assert.deepEqual(handleKey({ ...initialUi(), pane: "holdings" }, "n", {}, ctx).effect, {
    kind: "nextInverter",
  });
  assert.deepEqual(handleKey(initialUi(), "c", { ctrl: true }, ctx).effect, { kind: "interrupt" });
  // q inside a prompt is text, not quit
  const prompt = handleKey({ ...initialUi(), pane: "holdings" }, "", { return: true }, ctx).ui;
  assert.equal(handleKey(prompt, "q", {}, ctx).effect, undefined);
});
