import assert from "node:assert/strict";
import fc from "fast-check";
import { decodeFrame, fromHex, type TranslatedData } from "../src/lxp/frame.ts";
import {
  blockForStart,
  blockKeys,
  decodeInputReply,
  type InputBlock,
  inputKeyUnit,
  inputsJson,
  stringifyInputs,
} from "../src/lxp/inputs.ts";
import { OCTOLUX_SEED_INPUTS, V } from "./fixtures/lxp_vectors.ts";
import { findByKey } from "../src/lxp/registers.ts";

function values(hex: string): number[] {
  const r = decodeFrame(fromHex(hex));
  if (!r.ok) throw new Error(r.error);
  return (r.packet as TranslatedData).values!;
}
const B1 = values(V.readInput1Reply), B2 = values(V.readInput2Reply), B3 = values(V.readInput3Reply);

function only(block: InputBlock, hex: string, start: number) {
  const out = decodeInputReply(start, values(hex));
  assert.equal(out.length, 1);
  assert.equal(out[0].block, block);
  return out[0].json;
}

const SEED_KEYS: Record<1 | 2 | 3, string[]> = {
  1: Object.keys(JSON.parse(OCTOLUX_SEED_INPUTS[1])),
  2: Object.keys(JSON.parse(OCTOLUX_SEED_INPUTS[2])),
  3: Object.keys(JSON.parse(OCTOLUX_SEED_INPUTS[3])),
};

/** The entries of `j` with the given keys (arrays of keys or single keys), in that order. */
function pick(j: Record<string, number>, ...keys: (string | string[])[]): Record<string, number> {
  return Object.fromEntries(keys.flat().map((k) => [k, j[k]]));
}

/** The expected object, checked to have exactly the given keys first (guards the literal below). */
function withKeys(...args: (string | string[] | Record<string, number>)[]): Record<string, number> {
  const expected = args.pop() as Record<string, number>;
  assert.deepEqual(Object.keys(expected), args.flat() as string[]);
  return expected;
}

/**
 * Every further key that is a register of its own: value = the register's word(s) from the frame (low
 * word first for 32-bit, low/high byte where the table says so, two's complement when signed) ÷ the
 * table's scale; power factor per the official encoding. The expected value is computed here from the raw
 * words and the table's definition, not taken from the decoder's output.
 */
function assertFurtherKeysFromTable(j: Record<string, number>, words: number[], base: number) {
  const block = (base / 40 + 1) as 1 | 2 | 3;
  for (const key of Object.keys(j)) {
    if (SEED_KEYS[block].includes(key)) continue;
    const def = findByKey("input", key);
    if (!def) {
      // derived keys (differences) are asserted literally above; nothing else may be skipped
      assert.ok(["p_battery", "p_grid"].includes(key), `${key} has no register-table entry`);
      continue;
    }
    let raw = words[def.register - base];
    if (def.words === 2) raw += words[def.register - base + 1] * 65536;
    if (def.byte === "lo") raw &= 0xff;
    if (def.byte === "hi") raw >>>= 8;
    if (def.signed && def.words === 1 && raw >= 0x8000) raw -= 0x10000;
    const want = def.kind === "pf"
      ? (raw > 0 && raw <= 1000 ? raw / 1000 : raw > 1000 && raw < 2000 ? (1000 - raw) / 1000 : 0)
      : raw / def.scale;
    assert.equal(j[key], want, `${key} (input ${def.register}, scale ${def.scale})`);
  }
}

Deno.test("blockForStart", () => {
  assert.equal(blockForStart(0, 40), 1);
  assert.equal(blockForStart(40, 40), 2);
  assert.equal(blockForStart(80, 40), 3);
  assert.equal(blockForStart(120, 40), 4);
  assert.equal(blockForStart(0, 127), "all");
  assert.equal(blockForStart(0, 39), undefined);
  assert.equal(blockForStart(10, 40), undefined);
  assert.equal(blockForStart(160, 40), undefined);
});

Deno.test("§2.6 block 0–39 decodes to the fixture values", () => {
  const j = only(1, V.readInput1Reply, 0);
  // the seed's keys and the derived ones (p_battery = p_charge − p_discharge, p_grid = p_to_user − p_to_grid)
  assert.deepStrictEqual(
    pick(j, SEED_KEYS[1], "p_battery", "p_grid"),
    withKeys(SEED_KEYS[1], "p_battery", "p_grid", {
      status: 16,
      v_bat: 52.8,
      soc: 83,
      p_pv: 0,
      p_charge: 0,
      p_discharge: 512,
      v_acr: 234.1,
      f_ac: 50.04,
      p_inv: 502,
      p_rec: 0,
      v_eps: 234.1,
      f_eps: 50.04,
      p_to_grid: 0,
      p_to_user: 0,
      e_pv_day: 0,
      e_inv_day: 2.2,
      e_rec_day: 2.2,
      e_chg_day: 2.1,
      e_dischg_day: 2.2,
      e_eps_day: 0,
      e_to_grid_day: 0,
      e_to_user_day: 22.2,
      v_bus_1: 365.0,
      v_bus_2: 320.1,
      p_battery: -512,
      p_grid: 0,
    }),
  );
  assertFurtherKeysFromTable(j, B1, 0);
  // raw checks of the lxp-bridge integration spec
  assert.equal(B1[0], 16);
  assert.equal(B1[15], 5004);
});

Deno.test("§2.6 block 40–79 decodes to the fixture values", () => {
  const j = only(2, V.readInput2Reply, 40);
  assert.deepStrictEqual(
    pick(j, SEED_KEYS[2]),
    withKeys(SEED_KEYS[2], {
      e_pv_all: 4215.8,
      e_inv_all: 4965.0,
      e_rec_all: 5947.1,
      e_chg_all: 6369.4,
      e_dischg_all: 6039.3,
      e_eps_all: 0,
      e_to_grid_all: 1005.8,
      e_to_user_all: 10157.0,
      t_inner: 28,
      t_rad_1: 27,
      t_rad_2: 27,
    }),
  );
  assertFurtherKeysFromTable(j, B2, 40);
  assert.equal(B2[0], 42158); // input/40
  assert.equal(B2[19], 1); // input/59
});

Deno.test("§2.6 block 80–119 decodes to the fixture values", () => {
  const j = only(3, V.readInput3Reply, 80);
  const expected: Record<string, number> = {
    max_chg_curr: 66.0,
    max_dischg_curr: 66.0,
    charge_volt_ref: 53.5,
    dischg_cut_volt: 40.0,
  };
  for (let n = 0; n < 10; n++) expected[`bat_status_${n}`] = 0;
  expected.bat_status_inv = 0;
  assert.deepStrictEqual(pick(j, SEED_KEYS[3]), expected);
  assertFurtherKeysFromTable(j, B3, 80);
  assert.equal(B3[0], 17); // input/80
  assert.equal(B3[10], 0); // input/90
});

Deno.test("key sets start with exactly the seed's keys, in order", () => {
  for (const b of [1, 2, 3] as const) {
    const seedKeys = Object.keys(JSON.parse(OCTOLUX_SEED_INPUTS[b]));
    assert.deepStrictEqual(blockKeys(b).slice(0, seedKeys.length), seedKeys);
    assert.equal(new Set(blockKeys(b)).size, blockKeys(b).length, "duplicate key");
  }
  assert.deepStrictEqual(blockKeys(4).slice(0, 15), [
    "v_gen",
    "f_gen",
    "p_gen",
    "e_gen_day",
    "e_gen_all",
    "v_eps_l1",
    "v_eps_l2",
    "p_eps_l1",
    "p_eps_l2",
    "s_eps_l1",
    "s_eps_l2",
    "e_eps_l1_day",
    "e_eps_l2_day",
    "e_eps_l1_all",
    "e_eps_l2_all",
  ]);
});

Deno.test("property: every block always has the same key set, values are finite numbers", () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 160, maxLength: 160 }), (regs) => {
      for (const b of [1, 2, 3, 4] as const) {
        const j = inputsJson(b, (r) => regs[r]);
        assert.deepStrictEqual(Object.keys(j), blockKeys(b));
        for (const v of Object.values(j)) assert.ok(Number.isFinite(v));
        // no float noise: every value prints with at most 3 decimals
        for (const [k, v] of Object.entries(j)) assert.match(JSON.stringify(v), /^-?\d+(\.\d{1,3})?$/, k);
      }
    }),
    { numRuns: 300 },
  );
});

/** Raw registers that reproduce the seed example. */
function seedRegs(): number[] {
  const r = new Array(160).fill(0);
  Object.assign(r, {
    0: 32,
    4: 494,
    5: 53,
    7: 550,
    10: 114,
    11: 0,
    12: 2473,
    15: 4996,
    16: 0,
    17: 116,
    20: 2473,
    23: 4996,
    28: 7,
    31: 20,
    32: 17,
    33: 19,
    34: 24,
    37: 39,
    38: 3799,
    39: 3005,
    40: 16756,
    46: 9439,
    48: 10993,
    50: 12512,
    52: 11516,
    56: 1240,
    58: 11158,
    64: 43,
    65: 30,
    66: 30,
    81: 10500,
    82: 15000,
    83: 532,
    84: 400,
    90: 192,
    95: 3,
  });
  return r;
}

Deno.test("stringifyInputs reproduces the seed text exactly (octolux keys)", () => {
  const regs = seedRegs();
  for (const b of [1, 2, 3] as const) {
    const j = inputsJson(b, (n) => regs[n]);
    const seedKeys = Object.keys(JSON.parse(OCTOLUX_SEED_INPUTS[b]));
    const subset = Object.fromEntries(seedKeys.map((k) => [k, j[k]]));
    assert.equal(stringifyInputs(subset), OCTOLUX_SEED_INPUTS[b]);
    assert.deepStrictEqual(JSON.parse(stringifyInputs(j)), j);
    // plain JSON.stringify gives the same values (only "0.0" vs "0" differs)
    assert.deepStrictEqual(JSON.parse(JSON.stringify(subset)), JSON.parse(OCTOLUX_SEED_INPUTS[b]));
  }
});

Deno.test("sums are computed on raw values (e_pv_day, e_pv_all, p_pv)", () => {
  const regs = new Array(160).fill(0);
  regs[28] = 1;
  regs[29] = 2;
  regs[30] = 4; // 0.1 + 0.2 + 0.4 would be 0.7000000000000001 in floats
  regs[7] = 100;
  regs[8] = 200;
  regs[9] = 300;
  regs[40] = 0xffff;
  regs[41] = 1;
  regs[42] = 1;
  regs[44] = 2;
  const j1 = inputsJson(1, (n) => regs[n]);
  assert.equal(j1.e_pv_day, 0.7);
  assert.equal(j1.p_pv, 600);
  const j2 = inputsJson(2, (n) => regs[n]);
  assert.equal(j2.e_pv_all, (0x1ffff + 3) / 10);
  assert.equal(j2.e_pv_all_1, 0x1ffff / 10);
});

Deno.test("0–126 frame yields the same JSON as the three separate blocks", () => {
  const block4 = [3650, 2300, 5000, 1200, 15, 0x5678, 0x0001]; // registers 120–126
  const all = [...B1, ...B2, ...B3, ...block4];
  assert.equal(all.length, 127);
  const combined = decodeInputReply(0, all);
  assert.deepStrictEqual(combined.map((x) => x.block), [1, 2, 3]);
  const separate = [
    ...decodeInputReply(0, B1),
    ...decodeInputReply(40, B2),
    ...decodeInputReply(80, B3),
  ];
  assert.deepStrictEqual(combined, separate);
  for (let n = 0; n < 3; n++) {
    assert.equal(JSON.stringify(combined[n].json), JSON.stringify(separate[n].json));
  }
});

Deno.test("property: 0–126 == separate blocks for arbitrary register values", () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 127, maxLength: 127 }), (all) => {
      const combined = decodeInputReply(0, all);
      const separate = [0, 40, 80].flatMap((s) => decodeInputReply(s, all.slice(s, s + 40)));
      assert.deepStrictEqual(combined, separate);
    }),
    { numRuns: 200 },
  );
});

Deno.test("block 4 and unknown ranges", () => {
  const regs = Array.from({ length: 40 }, (_, n) => n + 1);
  regs[5] = 0x0002;
  regs[6] = 0x0001; // 125–126: e_gen_all = (2 + 65536) / 10
  const out = decodeInputReply(120, regs);
  assert.equal(out.length, 1);
  assert.equal(out[0].block, 4);
  assert.equal(out[0].json.v_gen, 0.2); // reg 121 = 2
  assert.equal(out[0].json.f_gen, 0.03); // reg 122 = 3
  assert.equal(out[0].json.p_gen, 4);
  assert.equal(out[0].json.e_gen_day, 0.5);
  assert.equal(out[0].json.e_gen_all, 6553.8);
  assert.equal(out[0].json.v_bus_p, 0.1);
  assert.deepStrictEqual(decodeInputReply(0, [1, 2, 3]), []);
  assert.deepStrictEqual(decodeInputReply(10, new Array(40).fill(0)), []);
  assert.deepStrictEqual(decodeInputReply(160, new Array(40).fill(0)), []);
  // an 80-register read covering blocks 1 and 2
  assert.deepStrictEqual(decodeInputReply(0, [...B1, ...B2]).map((x) => x.block), [1, 2]);
});

Deno.test("max_chg_curr / max_dischg_curr are ÷100 on both paths", () => {
  const all = [...B1, ...B2, ...B3, 0, 0, 0, 0, 0, 0, 0];
  const j3 = decodeInputReply(0, all)[2].json;
  assert.equal(j3.max_chg_curr, 66);
  assert.equal(j3.max_dischg_curr, 66);
});

Deno.test("inputKeyUnit gives every inputs key its unit from the register table, derived keys included", () => {
  assert.equal(inputKeyUnit("v_bat"), "V");
  assert.equal(inputKeyUnit("p_pv"), "W");
  assert.equal(inputKeyUnit("e_pv_day"), "kWh");
  assert.equal(inputKeyUnit("e_pv_all"), "kWh");
  assert.equal(inputKeyUnit("t_inner"), "°C");
  assert.equal(inputKeyUnit("status"), "");
  assert.equal(inputKeyUnit("no_such_key"), "");
});
