import assert from "node:assert/strict";
import fc from "fast-check";
import {
  asciiText,
  decodeBits,
  decodePf,
  faultTexts,
  findByKey,
  findRegister,
  formatValue,
  HOLD_REGISTERS,
  INPUT_REGISTERS,
  inverterClock,
  REG110_BITS,
  REG21_BITS,
  registersAt,
  scaledValue,
  slotRaw,
  slotTime,
  statusText,
  warningTexts,
} from "../src/lxp/registers.ts";

function get(bank: "input" | "hold", key: string) {
  const d = findByKey(bank, key);
  assert.ok(d, `${bank} ${key}`);
  return d;
}

Deno.test("table covers input 0–159 and hold 0–239, keys unique, well-formed", () => {
  for (
    const [bank, table, last] of [["input", INPUT_REGISTERS, 159], ["hold", HOLD_REGISTERS, 239]] as const
  ) {
    const keys = new Set<string>();
    const covered = new Map<number, number>();
    for (const d of table) {
      assert.equal(d.bank, bank);
      assert.ok(!keys.has(d.key), `duplicate key ${d.key}`);
      keys.add(d.key);
      assert.match(d.key, /^[a-z][a-z0-9_]*$/);
      assert.ok(d.name.length > 0);
      assert.ok([1, 2].includes(d.words));
      assert.ok([1, 10, 100, 1000].includes(d.scale), `${d.key} scale ${d.scale}`);
      for (let w = 0; w < d.words; w++) covered.set(d.register + w, (covered.get(d.register + w) ?? 0) + 1);
    }
    for (let r = 0; r <= last; r++) {
      assert.ok(covered.has(r), `${bank} ${r} not covered`);
      assert.ok(findRegister(bank, r) || registersAt(bank, r).length > 0, `${bank} ${r}`);
    }
    assert.equal(Math.max(...covered.keys()), last);
    // only input 5 is shared (soc low byte, soh high byte)
    for (const [r, n] of covered) {
      assert.ok(
        n === 1 || (bank === "input" && r === 5 && n === 2),
        `${bank} ${r} ×${n}`,
      );
    }
  }
});

Deno.test("generic holding entries", () => {
  const d = findRegister("hold", 17)!;
  assert.equal(d.key, "hold_17");
  assert.equal(d.generic, true);
  assert.equal(findRegister("hold", 239)!.key, "hold_239");
  assert.equal(findRegister("hold", 240), undefined);
  assert.equal(findRegister("input", 68)!.key, "input_68");
});

Deno.test("named holding registers of spec §4", () => {
  const cases: [number, string][] = [
    [21, "func_en"],
    [64, "charge_power_percent_cmd"],
    [65, "dischg_power_percent_cmd"],
    [66, "ac_charge_power_cmd"],
    [67, "ac_charge_soc_limit"],
    [68, "ac_charge_start_1"],
    [73, "ac_charge_end_3"],
    [74, "forced_chg_power_cmd"],
    [75, "forced_chg_soc_limit"],
    [76, "forced_charge_start_1"],
    [83, "forced_dischg_soc_limit"],
    [84, "forced_discharge_start_1"],
    [105, "dischg_cut_off_soc_eod"],
    [110, "func_en_1"],
    [125, "soc_low_limit_eps_dischg"],
    [152, "ac_first_start_1"],
    [157, "ac_first_end_3"],
    [160, "ac_charge_start_battery_soc"],
    [161, "ac_charge_end_battery_soc"],
  ];
  for (const [r, key] of cases) assert.equal(findRegister("hold", r)?.key, key, String(r));
  assert.equal(get("hold", "ac_charge_start_2").kind, "time");
  assert.equal(get("hold", "ct_power_offset").signed, true);
});

Deno.test("input table: octolux keys, units, classes", () => {
  const v = get("input", "v_ac_r");
  assert.equal(v.octoluxKey, "v_acr");
  assert.equal(v.unit, "V");
  assert.equal(v.scale, 10);
  assert.equal(v.deviceClass, "voltage");
  assert.equal(get("input", "v_eps_r").octoluxKey, "v_eps");
  const e = get("input", "e_inv_all");
  assert.equal(e.words, 2);
  assert.equal(e.stateClass, "total_increasing");
  assert.equal(e.unit, "kWh");
  assert.equal(get("input", "f_ac").scale, 100);
  assert.equal(get("input", "t_inner").unit, "°C");
  assert.equal(get("input", "max_chg_curr").scale, 100);
  assert.equal(findRegister("input", 5)!.key, "soc");
  assert.deepStrictEqual(registersAt("input", 5).map((d) => d.key), ["soc", "soh"]);
  assert.deepStrictEqual(registersAt("input", 41).map((d) => d.key), ["e_pv_all_1"]);
});

Deno.test("scaledValue: bytes, 32-bit low word first, signed, scale", () => {
  assert.equal(scaledValue(get("input", "soc"), [0x5f53]), 0x53);
  assert.equal(scaledValue(get("input", "soh"), [0x5f53]), 0x5f);
  assert.equal(scaledValue(get("input", "v_bat"), [528]), 52.8);
  assert.equal(scaledValue(get("input", "f_ac"), [5004]), 50.04);
  assert.equal(scaledValue(get("input", "e_pv_all_1"), [42158, 0]), 4215.8);
  assert.equal(scaledValue(get("input", "runtime"), [0xce54, 0x04ec]), 82628180);
  assert.equal(scaledValue(get("input", "bat_current"), [0xff9c]), -1); // -100 / 100
  assert.equal(scaledValue(get("input", "max_cell_temp"), [0xfff6]), -1); // -10 / 10
  assert.equal(scaledValue(get("input", "max_cell_voltage"), [3312]), 3.312);
  assert.equal(scaledValue(get("input", "bat_status_5"), [0x01c0]), 192);
  assert.equal(scaledValue(get("hold", "ct_power_offset"), [0xfc18]), -1000);
});

Deno.test("pf special decoding (§3.2 row 19)", () => {
  const pf = get("input", "pf");
  assert.equal(scaledValue(pf, [1000]), 1);
  assert.equal(scaledValue(pf, [950]), 0.95);
  assert.equal(scaledValue(pf, [1]), 0.001);
  assert.equal(scaledValue(pf, [1050]), -0.05);
  assert.equal(scaledValue(pf, [1999]), -0.999);
  assert.equal(decodePf(0), 0);
  assert.equal(decodePf(2000), 0);
  assert.equal(formatValue(pf, 0.95), "0.950");
});

Deno.test("property: scaled values print without float noise", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }), (lo, hi) => {
      for (const d of [...INPUT_REGISTERS, ...HOLD_REGISTERS]) {
        const v = scaledValue(d, [lo, hi]);
        assert.ok(Number.isFinite(v));
        const decimals = d.kind === "pf" ? 3 : Math.round(Math.log10(d.scale));
        assert.match(String(v), decimals ? new RegExp(`^-?\\d+(\\.\\d{1,${decimals}})?$`) : /^-?\d+$/, d.key);
      }
    }),
    { numRuns: 200 },
  );
});

Deno.test("formatValue", () => {
  assert.equal(formatValue(get("input", "v_bat"), 52.8), "52.8 V");
  assert.equal(formatValue(get("input", "v_bus_1"), 365), "365.0 V");
  assert.equal(formatValue(get("input", "f_ac"), 50.04), "50.04 Hz");
  assert.equal(formatValue(get("input", "e_to_user_day"), 22.2), "22.2 kWh");
  assert.equal(formatValue(get("input", "p_inv"), 502), "502 W");
  assert.equal(formatValue(get("input", "soc"), 83), "83 %");
  assert.equal(formatValue(get("input", "t_inner"), 28), "28 °C");
  assert.equal(formatValue(get("input", "status"), 16), "battery on-grid (16)");
  assert.equal(formatValue(get("input", "fault_code"), 0), "none");
  assert.equal(formatValue(get("input", "warning_code"), 1), "W000 battery communication failure");
  assert.equal(formatValue(get("hold", "func_en"), 62292), "0xF354");
  assert.equal(formatValue(get("hold", "ac_charge_start_1"), slotRaw(23, 30)), "23:30");
  assert.equal(formatValue(get("hold", "serial_num_1"), 0x4142), '"BA"');
  assert.equal(formatValue(get("hold", "time_year_month"), 1558), "year 2022, month 06");
  assert.equal(formatValue(get("hold", "hold_17"), 5), "5");
});

Deno.test("time helpers", () => {
  // §2.3: hold 12–14 = 1558, 1300, 14608 → 2022-06-20 05:16:57
  assert.equal(inverterClock(1558, 1300, 14608), "2022-06-20 05:16:57");
  assert.equal(slotTime(0x1e05), "05:30");
  assert.equal(slotRaw(5, 30), 0x1e05);
  assert.equal(asciiText([0x3239, 0x3239, 0x3030, 0x3036, 0x3336]), "9292006063");
});

Deno.test("register 21 and 110 bits", () => {
  assert.equal(REG21_BITS.length, 16);
  const b = decodeBits(21, 62292); // 0xF354
  assert.deepStrictEqual(b, {
    eps_en: false,
    ovf_load_derate_en: false,
    drms_en: true,
    lvrt_en: false,
    anti_island_en: true,
    neutral_detect_en: false,
    grid_on_power_ss_en: true,
    ac_charge_en: false,
    sw_seamless_en: true,
    set_to_standby: true,
    forced_discharge_en: false,
    charge_priority_en: false,
    iso_en: true,
    gfci_en: true,
    dci_en: true,
    feed_in_grid_en: true,
  });
  assert.equal(decodeBits(21, 0x80)!.ac_charge_en, true);
  assert.equal(decodeBits(21, 0x400)!.forced_discharge_en, true);
  assert.equal(decodeBits(21, 0x800)!.charge_priority_en, true);
  assert.deepStrictEqual(Object.keys(decodeBits(110, 0)!), REG110_BITS.map((x) => x.key));
  assert.deepStrictEqual(decodeBits(110, 5), {
    ub_pv_grid_off_en: true,
    ub_run_without_grid: false,
    ub_micro_grid_en: true,
    bat_shared: false,
    chg_last_en: false,
  });
});

Deno.test("status, fault and warning texts", () => {
  assert.equal(statusText(0), "standby");
  assert.equal(statusText(0x10), "battery on-grid");
  assert.equal(statusText(0x20), "AC charge");
  assert.equal(statusText(0xc0), "PV + battery off-grid");
  assert.equal(statusText(0x33), "unknown status 0x33");
  assert.deepStrictEqual(faultTexts(0), []);
  assert.deepStrictEqual(faultTexts(1), ["E000 internal communication fault 1"]);
  assert.deepStrictEqual(faultTexts(0x80000000 + 8), ["E003 CT fail", "E031 internal communication fault 4"]);
  assert.deepStrictEqual(faultTexts(1 << 4), ["E004 unknown"]);
  assert.deepStrictEqual(warningTexts(1 << 16), ["W016 grid power outage"]);
  assert.equal(warningTexts(0xffffffff).length, 32);
});
