import assert from "node:assert/strict";
import fc from "fast-check";
import {
  ALL_COMMANDS,
  COMMANDS,
  NAMED_COMMANDS,
  parseBoolean,
  parseBooleanStrict,
  parseUint,
  planCommand,
} from "../src/lxp/commands.ts";

Deno.test("parseBoolean", () => {
  for (const t of ["1", "t", "true", "y", "yes", "on", "TRUE", "On", " yes ", "Y\n"]) {
    assert.equal(parseBoolean(t), true, t);
  }
  for (const f of ["0", "f", "false", "no", "off", "", "2", "truee", "enable", "ja"]) {
    assert.equal(parseBoolean(f), false, f);
  }
});

Deno.test("NAMED_COMMANDS", () => {
  assert.deepStrictEqual([...NAMED_COMMANDS], [
    "ac_charge",
    "forced_discharge",
    "charge_priority",
    "charge_pct",
    "discharge_pct",
    "charge_amount_pct",
  ]);
  assert.ok(ALL_COMMANDS.includes("read_hold"));
});

Deno.test("bit commands → register 21 bits 7/10/11", () => {
  assert.deepStrictEqual(planCommand("ac_charge", "on"), {
    ok: true,
    plan: { kind: "setBit", register: 21, bit: 7, on: true },
  });
  assert.deepStrictEqual(planCommand("forced_discharge", "0"), {
    ok: true,
    plan: { kind: "setBit", register: 21, bit: 10, on: false },
  });
  assert.deepStrictEqual(planCommand("charge_priority", "yes"), {
    ok: true,
    plan: { kind: "setBit", register: 21, bit: 11, on: true },
  });
  // The seed's rule (anything not true is false) stays on MQTT, with a warning naming the payload.
  assert.deepStrictEqual(planCommand("ac_charge", "garbage"), {
    ok: true,
    plan: { kind: "setBit", register: 21, bit: 7, on: false },
    warning: 'ac_charge: payload "garbage" is none of 1 t true y yes on 0 f false n no off; taken as off',
  });
  assert.equal((planCommand("ac_charge", "OFF") as { warning?: string }).warning, undefined);
});

Deno.test("parseBooleanStrict: on off true false 1 0 yes no y n t f, any case; else undefined", () => {
  for (const t of ["on", "TRUE", "1", "Yes", "y", "t", " on\n"]) assert.equal(parseBooleanStrict(t), true, t);
  for (const f of ["off", "False", "0", "NO", "n", "f", "\toff "]) {
    assert.equal(parseBooleanStrict(f), false, f);
  }
  for (const x of ["maybe", "", "2", "onn", "\u00a0on", "on\u3000", "ja"]) {
    assert.equal(parseBooleanStrict(x), undefined, x);
  }
});

Deno.test("command table: registers and bits of spec §4 (hold 21 bits 7/10/11; hold 64, 65, 67 0–100)", () => {
  const rows = COMMANDS.map((
    c,
  ) => [c.name, c.register, c.value.kind === "bool" ? c.value.bit : `${c.value.min}-${c.value.max}`]);
  assert.deepStrictEqual(rows, [
    ["ac_charge", 21, 7],
    ["forced_discharge", 21, 10],
    ["charge_priority", 21, 11],
    ["charge_pct", 64, "0-100"],
    ["discharge_pct", 65, "0-100"],
    ["charge_amount_pct", 67, "0-100"],
  ]);
});

Deno.test("percentage commands → hold 64/65/67", () => {
  assert.deepStrictEqual(planCommand("charge_pct", "50"), {
    ok: true,
    plan: { kind: "write", register: 64, value: 50 },
  });
  assert.deepStrictEqual(planCommand("discharge_pct", "0"), {
    ok: true,
    plan: { kind: "write", register: 65, value: 0 },
  });
  assert.deepStrictEqual(planCommand("charge_amount_pct", "100"), {
    ok: true,
    plan: { kind: "write", register: 67, value: 100 },
  });
  assert.deepStrictEqual(planCommand("charge_pct", " 50 "), {
    ok: true,
    plan: { kind: "write", register: 64, value: 50 },
  });
  assert.deepStrictEqual(planCommand("charge_pct", "050"), {
    ok: true,
    plan: { kind: "write", register: 64, value: 50 },
  });
  for (
    const bad of [
      "abc",
      "150",
      "101",
      "-1",
      "50.5",
      "",
      " ",
      "+5",
      "1e2",
      "0x10",
      "5 0",
      "50%",
      "٥٠",
      "\u00a050",
      "50\u3000",
      "\u200950",
      "NaN",
      "Infinity",
    ]
  ) {
    for (const name of ["charge_pct", "discharge_pct", "charge_amount_pct"]) {
      const r = planCommand(name, bad);
      assert.equal(r.ok, false, `${name} ${JSON.stringify(bad)}`);
      if (!r.ok) {
        assert.ok(r.error.includes(JSON.stringify(bad)), r.error);
        assert.ok(r.error.startsWith(name), r.error);
      }
    }
  }
});

Deno.test("read_input", () => {
  for (const b of [1, 2, 3, 4]) {
    assert.deepStrictEqual(planCommand("read_input", String(b)), {
      ok: true,
      plan: { kind: "readInput", block: b },
    });
  }
  for (const bad of ["0", "5", "7", "", "x", "1.0", "-1"]) {
    const r = planCommand("read_input", bad);
    assert.equal(r.ok, false, bad);
    if (!r.ok) assert.ok(r.error.includes(JSON.stringify(bad)), r.error);
  }
});

Deno.test("read_hold", () => {
  assert.deepStrictEqual(planCommand("read_hold", "65"), {
    ok: true,
    plan: { kind: "readHold", register: 65, count: 1 },
  });
  assert.deepStrictEqual(planCommand("read_hold", "0,40"), {
    ok: true,
    plan: { kind: "readHold", register: 0, count: 40 },
  });
  assert.deepStrictEqual(planCommand("read_hold", " 12 , 3 "), {
    ok: true,
    plan: { kind: "readHold", register: 12, count: 3 },
  });
  assert.deepStrictEqual(planCommand("read_hold", "0,127"), {
    ok: true,
    plan: { kind: "readHold", register: 0, count: 127 },
  });
  assert.deepStrictEqual(planCommand("read_hold", "65535"), {
    ok: true,
    plan: { kind: "readHold", register: 65535, count: 1 },
  });
  for (const bad of ["x", "", "65536", "-1", "1,0", "1,128", "1,x", "1,2,3", "1,", ",1", "65535,2", "1.5"]) {
    const r = planCommand("read_hold", bad);
    assert.equal(r.ok, false, bad);
    if (!r.ok) assert.ok(r.error.includes(JSON.stringify(bad)), r.error);
  }
});

Deno.test("set_hold/<reg>", () => {
  assert.deepStrictEqual(planCommand("set_hold/66", "100"), {
    ok: true,
    plan: { kind: "write", register: 66, value: 100 },
  });
  assert.deepStrictEqual(planCommand("set_hold/0", "65535"), {
    ok: true,
    plan: { kind: "write", register: 0, value: 65535 },
  });
  assert.deepStrictEqual(planCommand("set_hold/65535", "0"), {
    ok: true,
    plan: { kind: "write", register: 65535, value: 0 },
  });
  for (
    const [name, payload] of [
      ["set_hold/66", "65536"],
      ["set_hold/66", "-1"],
      ["set_hold/66", ""],
      ["set_hold/66", "1.5"],
      ["set_hold/66", "abc"],
      ["set_hold/65536", "1"],
      ["set_hold/x", "1"],
      ["set_hold/", "1"],
      ["set_hold/-1", "1"],
      ["set_hold/ 5", "1"],
      ["set_hold/1e2", "1"],
    ]
  ) {
    const r = planCommand(name, payload);
    assert.equal(r.ok, false, `${name} ${payload}`);
  }
  const r = planCommand("set_hold/66", "abc");
  assert.ok(!r.ok && r.error.includes('"abc"'));
});

Deno.test("unknown commands", () => {
  for (const name of ["", "foo", "charge_rate_pct", "toString", "__proto__", "constructor", "set_hold"]) {
    const r = planCommand(name, "1");
    assert.equal(r.ok, false, name);
  }
});

Deno.test("integers: only ASCII whitespace around the digits is accepted", () => {
  for (const ok of [" 50", "50 ", "\t50\n", "\r\n50\r\n", "\f50\v", "  50  "]) {
    assert.equal(parseUint(ok, 0, 100), 50, JSON.stringify(ok));
    assert.equal(planCommand("discharge_pct", ok).ok, true, JSON.stringify(ok));
  }
  const spaces = [
    "\u00a0",
    "\u3000",
    "\u2000",
    "\u2009",
    "\u202f",
    "\u205f",
    "\u1680",
    "\ufeff",
    "\u2028",
    "\u0085",
  ];
  for (const sp of spaces) {
    for (const bad of [`${sp}50`, `50${sp}`, `${sp}50${sp}`, ` ${sp}50 `]) {
      assert.equal(parseUint(bad, 0, 100), undefined, JSON.stringify(bad));
      for (const name of ["charge_pct", "discharge_pct", "charge_amount_pct"]) {
        const r = planCommand(name, bad);
        assert.equal(r.ok, false, `${name} ${JSON.stringify(bad)}`);
        if (!r.ok) assert.ok(r.error.includes(JSON.stringify(bad)), r.error);
      }
    }
  }
  // the same rule for the other integer payloads
  assert.equal(planCommand("read_input", "\u00a01").ok, false);
  assert.equal(planCommand("read_hold", "21,\u30002").ok, false);
  assert.equal(planCommand("set_hold/66", "70\u00a0").ok, false);
});

Deno.test("property: planCommand never throws; percentages accept exactly 0–100", () => {
  fc.assert(
    fc.property(fc.string(), fc.string(), (name, payload) => {
      planCommand(name, payload);
      planCommand("charge_pct", payload);
      planCommand("read_hold", payload);
      planCommand(`set_hold/${name}`, payload);
    }),
    { numRuns: 1000 },
  );
  fc.assert(
    fc.property(fc.integer({ min: -1000, max: 1000 }), (n) => {
      const r = planCommand("discharge_pct", String(n));
      assert.equal(r.ok, n >= 0 && n <= 100);
    }),
  );
});
