// PURE: the one register table — input registers 0–159 and holding registers 0–239 — plus bit fields,
// status texts and fault/warning bit texts. Facts from the project's LXP protocol sheet §3–§4.
//
// Conventions: value = raw / scale; 32-bit quantities are two registers, low word first; a `byte` field
// selects the low or high byte of one register (input 5 = SOC low byte, SOH high byte). `kind` marks
// values that need special decoding or formatting.

export type RegisterKind =
  | "number" // plain scaled number (default)
  | "pf" // power factor, official encoding: (0,1000] → x/1000, (1000,2000) → (1000−x)/1000
  | "status" // input 0, see statusText
  | "fault" // inputs 60–61 bit field, see faultTexts
  | "warning" // inputs 62–63 bit field, see warningTexts
  | "bits" // a bit field shown in hex (hold 21 and 110 have named bits)
  | "ascii" // two ASCII characters, low byte first (serial numbers)
  | "time" // time-slot register: low byte hour, high byte minute
  | "clock" // hold 12–14: low byte year/day/minute, high byte month/hour/second
  | "hex"; // opaque code, shown in hex

export interface RegisterDef {
  bank: "input" | "hold";
  register: number; // first register (32-bit values: the low word)
  key: string; // snake_case, e.g. "v_bat", "e_pv_all_1", "ac_charge_soc_limit"
  name: string; // human label
  words: 1 | 2;
  scale: number; // value = raw / scale (1, 10, 100, 1000)
  signed: boolean;
  unit: string; // "V", "W", "kWh", "%", "°C", "Hz", "A", "" …
  octoluxKey?: string; // key in the octolux inputs JSON, when the register is published there as-is
  deviceClass?: string; // Home Assistant device_class
  stateClass?: string; // Home Assistant state_class
  byte?: "lo" | "hi"; // 8-bit value held in the low / high byte of the register
  kind?: RegisterKind; // special decoding / formatting (default "number")
  generic?: boolean; // placeholder entry for a register the sources do not describe
  icon?: string; // Home Assistant icon (mdi:…) where the device class gives none
  diagnostic?: boolean; // Home Assistant entity_category "diagnostic"
  textName?: string; // name of the decoded-text entity (status, fault and warning bits)
}

type Opt = Partial<Omit<RegisterDef, "bank" | "register" | "key" | "name">>;

// Unit presets (scale, unit, HA classes)
const V10: Opt = { scale: 10, unit: "V", deviceClass: "voltage", stateClass: "measurement" };
const W: Opt = { scale: 1, unit: "W", deviceClass: "power", stateClass: "measurement" };
const VA: Opt = { scale: 1, unit: "VA", deviceClass: "apparent_power", stateClass: "measurement" };
const HZ100: Opt = { scale: 100, unit: "Hz", deviceClass: "frequency", stateClass: "measurement" };
const KWH: Opt = { scale: 10, unit: "kWh", deviceClass: "energy", stateClass: "total_increasing" };
const KWH32: Opt = { ...KWH, words: 2 };
const DEGC: Opt = { scale: 1, unit: "°C", deviceClass: "temperature", stateClass: "measurement" };
const DEGC10: Opt = {
  scale: 10,
  unit: "°C",
  deviceClass: "temperature",
  stateClass: "measurement",
  signed: true,
};
const PCT: Opt = { scale: 1, unit: "%" };
const A100: Opt = { scale: 100, unit: "A", deviceClass: "current", stateClass: "measurement" };
const RAW: Opt = { scale: 1, unit: "" };
const TIME: Opt = { scale: 1, unit: "", kind: "time" };
const ASCII: Opt = { scale: 1, unit: "", kind: "ascii" };
const BITS: Opt = { scale: 1, unit: "", kind: "bits" };
const HEXC: Opt = { scale: 1, unit: "", kind: "hex" };
const SECS: Opt = { scale: 1, unit: "s" };
const DIAG: Opt = { diagnostic: true };
const ICON_FAULT = "mdi:alert-circle-outline";
const ICON_WARNING = "mdi:alert-outline";

function def(bank: "input" | "hold", register: number, key: string, name: string, o: Opt = RAW): RegisterDef {
  const d: RegisterDef = {
    bank,
    register,
    key,
    name,
    words: o.words ?? 1,
    scale: o.scale ?? 1,
    signed: o.signed ?? false,
    unit: o.unit ?? "",
  };
  if (o.octoluxKey !== undefined) d.octoluxKey = o.octoluxKey;
  if (o.deviceClass !== undefined) d.deviceClass = o.deviceClass;
  if (o.stateClass !== undefined) d.stateClass = o.stateClass;
  if (o.byte !== undefined) d.byte = o.byte;
  if (o.kind !== undefined && o.kind !== "number") d.kind = o.kind;
  if (o.generic) d.generic = true;
  if (o.icon !== undefined) d.icon = o.icon;
  if (o.diagnostic) d.diagnostic = true;
  if (o.textName !== undefined) d.textName = o.textName;
  return d;
}

/** Fill gaps with generic entries so every register of the bank can be displayed. */
function complete(bank: "input" | "hold", last: number, defs: RegisterDef[], prefix: string): RegisterDef[] {
  const covered = new Set<number>();
  for (const d of defs) for (let i = 0; i < d.words; i++) covered.add(d.register + i);
  const out = [...defs];
  for (let r = 0; r <= last; r++) {
    if (!covered.has(r)) {
      out.push(
        def(bank, r, `${prefix}_${r}`, `${bank === "hold" ? "Holding" : "Input"} register ${r}`, {
          ...RAW,
          generic: true,
        }),
      );
    }
  }
  // stable: by register, then lo byte before hi byte
  return out.sort((a, b) => a.register - b.register || (a.byte === "hi" ? 1 : 0) - (b.byte === "hi" ? 1 : 0));
}

// ---------------------------------------------------------------------------------------------------------
// Input registers 0–159 (function 0x04)

const i = (register: number, key: string, name: string, o: Opt = RAW) => def("input", register, key, name, o);

export const INPUT_REGISTERS: readonly RegisterDef[] = complete("input", 159, [
  i(0, "status", "Inverter status code", {
    ...RAW,
    octoluxKey: "status",
    kind: "status",
    icon: "mdi:information-outline",
    diagnostic: true,
    textName: "Inverter status",
  }),
  i(1, "v_pv_1", "PV1 voltage", V10),
  i(2, "v_pv_2", "PV2 voltage", V10),
  i(3, "v_pv_3", "PV3 voltage", V10),
  i(4, "v_bat", "Battery voltage", { ...V10, octoluxKey: "v_bat" }),
  i(5, "soc", "Battery state of charge", {
    ...PCT,
    byte: "lo",
    octoluxKey: "soc",
    deviceClass: "battery",
    stateClass: "measurement",
  }),
  i(5, "soh", "Battery state of health", {
    ...PCT,
    byte: "hi",
    stateClass: "measurement",
    icon: "mdi:battery-heart-variant",
  }),
  i(6, "internal_fault", "Internal fault code", { ...HEXC, ...DIAG, icon: ICON_FAULT }),
  i(7, "p_pv_1", "PV1 power", W),
  i(8, "p_pv_2", "PV2 power", W),
  i(9, "p_pv_3", "PV3 power", W),
  i(10, "p_charge", "Battery charge power", { ...W, octoluxKey: "p_charge" }),
  i(11, "p_discharge", "Battery discharge power", { ...W, octoluxKey: "p_discharge" }),
  i(12, "v_ac_r", "Grid voltage R", { ...V10, octoluxKey: "v_acr" }),
  i(13, "v_ac_s", "Grid voltage S", V10),
  i(14, "v_ac_t", "Grid voltage T", V10),
  i(15, "f_ac", "Grid frequency", { ...HZ100, octoluxKey: "f_ac" }),
  i(16, "p_inv", "Inverter output power", { ...W, octoluxKey: "p_inv" }),
  i(17, "p_rec", "Rectifier (AC charge) power", { ...W, octoluxKey: "p_rec" }),
  i(18, "i_inv_rms", "Inverter RMS current", A100),
  i(19, "pf", "Power factor", {
    scale: 1000,
    unit: "",
    kind: "pf",
    deviceClass: "power_factor",
    stateClass: "measurement",
  }),
  i(20, "v_eps_r", "EPS voltage R", { ...V10, octoluxKey: "v_eps" }),
  i(21, "v_eps_s", "EPS voltage S", V10),
  i(22, "v_eps_t", "EPS voltage T", V10),
  i(23, "f_eps", "EPS frequency", { ...HZ100, octoluxKey: "f_eps" }),
  i(24, "p_eps", "EPS power", W),
  i(25, "s_eps", "EPS apparent power", VA),
  i(26, "p_to_grid", "Power to grid (export)", { ...W, octoluxKey: "p_to_grid" }),
  i(27, "p_to_user", "Power to user (import)", { ...W, octoluxKey: "p_to_user" }),
  i(28, "e_pv_day_1", "PV1 energy today", KWH),
  i(29, "e_pv_day_2", "PV2 energy today", KWH),
  i(30, "e_pv_day_3", "PV3 energy today", KWH),
  i(31, "e_inv_day", "Inverter output energy today", { ...KWH, octoluxKey: "e_inv_day" }),
  i(32, "e_rec_day", "AC charge energy today", { ...KWH, octoluxKey: "e_rec_day" }),
  i(33, "e_chg_day", "Battery charge energy today", { ...KWH, octoluxKey: "e_chg_day" }),
  i(34, "e_dischg_day", "Battery discharge energy today", { ...KWH, octoluxKey: "e_dischg_day" }),
  i(35, "e_eps_day", "EPS energy today", { ...KWH, octoluxKey: "e_eps_day" }),
  i(36, "e_to_grid_day", "Export energy today", { ...KWH, octoluxKey: "e_to_grid_day" }),
  i(37, "e_to_user_day", "Import energy today", { ...KWH, octoluxKey: "e_to_user_day" }),
  i(38, "v_bus_1", "Bus voltage 1", { ...V10, ...DIAG, octoluxKey: "v_bus_1" }),
  i(39, "v_bus_2", "Bus voltage 2", { ...V10, ...DIAG, octoluxKey: "v_bus_2" }),
  i(40, "e_pv_all_1", "PV1 energy total", KWH32),
  i(42, "e_pv_all_2", "PV2 energy total", KWH32),
  i(44, "e_pv_all_3", "PV3 energy total", KWH32),
  i(46, "e_inv_all", "Inverter output energy total", { ...KWH32, octoluxKey: "e_inv_all" }),
  i(48, "e_rec_all", "AC charge energy total", { ...KWH32, octoluxKey: "e_rec_all" }),
  i(50, "e_chg_all", "Battery charge energy total", { ...KWH32, octoluxKey: "e_chg_all" }),
  i(52, "e_dischg_all", "Battery discharge energy total", { ...KWH32, octoluxKey: "e_dischg_all" }),
  i(54, "e_eps_all", "EPS energy total", { ...KWH32, octoluxKey: "e_eps_all" }),
  i(56, "e_to_grid_all", "Export energy total", { ...KWH32, octoluxKey: "e_to_grid_all" }),
  i(58, "e_to_user_all", "Import energy total", { ...KWH32, octoluxKey: "e_to_user_all" }),
  i(60, "fault_code", "Fault code bits", {
    ...RAW,
    ...DIAG,
    words: 2,
    kind: "fault",
    icon: ICON_FAULT,
    textName: "Faults",
  }),
  i(62, "warning_code", "Warning code bits", {
    ...RAW,
    ...DIAG,
    words: 2,
    kind: "warning",
    icon: ICON_WARNING,
    textName: "Warnings",
  }),
  i(64, "t_inner", "Internal temperature", { ...DEGC, ...DIAG, octoluxKey: "t_inner" }),
  i(65, "t_rad_1", "Radiator 1 temperature", { ...DEGC, ...DIAG, octoluxKey: "t_rad_1" }),
  i(66, "t_rad_2", "Radiator 2 temperature", { ...DEGC, ...DIAG, octoluxKey: "t_rad_2" }),
  i(67, "t_bat", "Battery temperature (lead-acid sensor)", { ...DEGC, ...DIAG }),
  i(69, "runtime", "Running time (cumulative)", {
    ...SECS,
    ...DIAG,
    words: 2,
    deviceClass: "duration",
    stateClass: "total_increasing",
  }),
  i(71, "auto_test", "Auto test start/status/step bits", BITS),
  i(72, "auto_test_limit", "Auto test limit", RAW),
  i(73, "auto_test_default_time", "Auto test default time", { ...RAW, unit: "ms" }),
  i(74, "auto_test_trip_value", "Auto test trip value", RAW),
  i(75, "auto_test_trip_time", "Auto test trip time", { ...RAW, unit: "ms" }),
  i(77, "ac_input_type", "AC input type (0 grid, 1 generator)", RAW),
  i(80, "bat_type", "Battery type / brand", HEXC),
  i(81, "max_chg_curr", "Max charge current (BMS)", { ...A100, ...DIAG, octoluxKey: "max_chg_curr" }),
  i(82, "max_dischg_curr", "Max discharge current (BMS)", {
    ...A100,
    ...DIAG,
    octoluxKey: "max_dischg_curr",
  }),
  i(83, "charge_volt_ref", "Charge voltage reference (BMS)", {
    ...V10,
    ...DIAG,
    octoluxKey: "charge_volt_ref",
  }),
  i(84, "dischg_cut_volt", "Discharge cut-off voltage (BMS)", {
    ...V10,
    ...DIAG,
    octoluxKey: "dischg_cut_volt",
  }),
  ...Array.from(
    { length: 10 },
    (_, n) =>
      i(85 + n, `bat_status_${n}`, `Battery status ${n} (BMS)`, {
        ...RAW,
        byte: "lo",
        octoluxKey: `bat_status_${n}`,
      }),
  ),
  i(95, "bat_status_inv", "Battery status (inverter)", { ...RAW, byte: "lo", octoluxKey: "bat_status_inv" }),
  i(96, "bat_count", "Batteries in parallel", { ...RAW, ...DIAG, icon: "mdi:car-battery" }),
  i(97, "bat_capacity", "Battery capacity", { ...RAW, ...DIAG, unit: "Ah", icon: "mdi:battery-high" }),
  i(98, "bat_current", "Battery current (BMS)", { ...A100, signed: true }),
  i(99, "bms_event_1", "BMS fault code", { ...HEXC, ...DIAG, icon: ICON_FAULT }),
  i(100, "bms_event_2", "BMS warning code", { ...HEXC, ...DIAG, icon: ICON_WARNING }),
  i(101, "max_cell_voltage", "Max cell voltage", {
    scale: 1000,
    unit: "V",
    deviceClass: "voltage",
    stateClass: "measurement",
  }),
  i(102, "min_cell_voltage", "Min cell voltage", {
    scale: 1000,
    unit: "V",
    deviceClass: "voltage",
    stateClass: "measurement",
  }),
  i(103, "max_cell_temp", "Max cell temperature", { ...DEGC10, ...DIAG }),
  i(104, "min_cell_temp", "Min cell temperature", { ...DEGC10, ...DIAG }),
  i(105, "bms_fw_update_state", "BMS firmware update state (1 upgrading, 2 ok, 3 failed)", {
    ...RAW,
    ...DIAG,
    icon: "mdi:update",
  }),
  i(106, "cycle_count", "Battery cycle count", {
    ...RAW,
    ...DIAG,
    stateClass: "total_increasing",
    icon: "mdi:battery-sync",
  }),
  i(107, "vbat_inv", "Battery voltage (inverter sample)", { ...V10, ...DIAG }),
  ...Array.from(
    { length: 5 },
    (_, n) => i(108 + n, `t_bat_${n + 1}`, `Battery temperature T${n + 1}`, DEGC10),
  ),
  i(113, "parallel_info", "Master/slave, phase, parallel count bits", BITS),
  ...Array.from(
    { length: 5 },
    (_, n) => i(115 + n, `serial_${n + 1}`, `Inverter serial chars ${2 * n + 1}–${2 * n + 2}`, ASCII),
  ),
  i(120, "v_bus_p", "Half bus voltage", { ...V10, ...DIAG }),
  i(121, "v_gen", "Generator voltage", V10),
  i(122, "f_gen", "Generator frequency", HZ100),
  i(123, "p_gen", "Generator power", W),
  i(124, "e_gen_day", "Generator energy today", KWH),
  i(125, "e_gen_all", "Generator energy total", KWH32),
  i(127, "v_eps_l1", "EPS voltage L1-N", V10),
  i(128, "v_eps_l2", "EPS voltage L2-N", V10),
  i(129, "p_eps_l1", "EPS power L1-N", W),
  i(130, "p_eps_l2", "EPS power L2-N", W),
  i(131, "s_eps_l1", "EPS apparent power L1-N", VA),
  i(132, "s_eps_l2", "EPS apparent power L2-N", VA),
  i(133, "e_eps_l1_day", "EPS energy L1-N today", KWH),
  i(134, "e_eps_l2_day", "EPS energy L2-N today", KWH),
  i(135, "e_eps_l1_all", "EPS energy L1-N total", KWH32),
  i(137, "e_eps_l2_all", "EPS energy L2-N total", KWH32),
  ...Array.from(
    { length: 4 },
    (_, n) => i(140 + n, `afci_curr_ch${n + 1}`, `AFCI current CH${n + 1}`, { ...RAW, unit: "mA" }),
  ),
  i(144, "afci_flags", "AFCI arc alarm / self-test flags", BITS),
  ...Array.from(
    { length: 4 },
    (_, n) => i(145 + n, `afci_arc_ch${n + 1}`, `AFCI real-time arc CH${n + 1}`, RAW),
  ),
  ...Array.from(
    { length: 4 },
    (_, n) => i(149 + n, `afci_max_arc_ch${n + 1}`, `AFCI max arc CH${n + 1}`, RAW),
  ),
], "input");

// ---------------------------------------------------------------------------------------------------------
// Holding registers 0–239 (function 0x03 / 0x06 / 0x10)

const h = (register: number, key: string, name: string, o: Opt = RAW) => def("hold", register, key, name, o);
const HV10: Opt = { scale: 10, unit: "V" };
const HHZ100: Opt = { scale: 100, unit: "Hz" };

function slots(first: number, key: string, name: string): RegisterDef[] {
  const out: RegisterDef[] = [];
  for (let n = 0; n < 3; n++) {
    out.push(h(first + 2 * n, `${key}_start_${n + 1}`, `${name} slot ${n + 1} start`, TIME));
    out.push(h(first + 2 * n + 1, `${key}_end_${n + 1}`, `${name} slot ${n + 1} end`, TIME));
  }
  return out;
}

function gridLimits(first: number, what: "volt" | "freq", o: Opt): RegisterDef[] {
  const out: RegisterDef[] = [];
  for (let n = 1; n <= 3; n++) {
    const base = first + (n - 1) * 4;
    const label = what === "volt" ? "Grid voltage" : "Grid frequency";
    out.push(h(base, `grid_${what}_limit${n}_low`, `${label} limit ${n} low`, o));
    out.push(h(base + 1, `grid_${what}_limit${n}_high`, `${label} limit ${n} high`, o));
    out.push(h(base + 2, `grid_${what}_limit${n}_low_time`, `${label} limit ${n} low time`, RAW));
    out.push(h(base + 3, `grid_${what}_limit${n}_high_time`, `${label} limit ${n} high time`, RAW));
  }
  return out;
}

export const HOLD_REGISTERS: readonly RegisterDef[] = complete("hold", 239, [
  h(0, "model_0", "Model bits (low)", HEXC),
  h(1, "model_1", "Model bits (high)", HEXC),
  ...Array.from(
    { length: 5 },
    (_, n) => h(2 + n, `serial_num_${n + 1}`, `Serial number chars ${2 * n + 1}–${2 * n + 2}`, ASCII),
  ),
  h(7, "fw_code_1", "Firmware code chars 1–2", ASCII),
  h(8, "fw_code_2", "Firmware code chars 3–4", ASCII),
  h(9, "slave_comm_ver", "Slave / comm version", HEXC),
  h(10, "control_fw_ver", "Control / firmware version", HEXC),
  h(11, "reset_setting", "Reset setting bits", BITS),
  h(12, "time_year_month", "Clock year / month", { ...RAW, kind: "clock" }),
  h(13, "time_day_hour", "Clock day / hour", { ...RAW, kind: "clock" }),
  h(14, "time_minute_second", "Clock minute / second", { ...RAW, kind: "clock" }),
  h(15, "com_addr", "Communication address", RAW),
  h(16, "language", "Language (0 English)", RAW),
  h(19, "device_type", "Device type", RAW),
  h(20, "pv_input_mode", "PV input mode", RAW),
  h(21, "func_en", "Function enable bits", BITS),
  h(22, "start_pv_volt", "PV start voltage", HV10),
  h(23, "connect_time", "Grid connect time", SECS),
  h(24, "reconnect_time", "Grid reconnect time", SECS),
  h(25, "grid_volt_conn_low", "Grid connect voltage low", HV10),
  h(26, "grid_volt_conn_high", "Grid connect voltage high", HV10),
  h(27, "grid_freq_conn_low", "Grid connect frequency low", HHZ100),
  h(28, "grid_freq_conn_high", "Grid connect frequency high", HHZ100),
  ...gridLimits(29, "volt", HV10),
  h(41, "grid_volt_mov_avg_high", "Grid voltage moving average high", HV10),
  ...gridLimits(42, "freq", HHZ100),
  h(54, "max_q_percent_for_qv", "Max Q for Q(V)", PCT),
  h(55, "v1l", "Q(V) V1L", HV10),
  h(56, "v2l", "Q(V) V2L", HV10),
  h(57, "v1h", "Q(V) V1H", HV10),
  h(58, "v2h", "Q(V) V2H", HV10),
  h(59, "reactive_power_cmd_type", "Reactive power command type", RAW),
  h(60, "active_power_percent_cmd", "Active power", PCT),
  h(61, "reactive_power_percent_cmd", "Reactive power", PCT),
  h(62, "pf_cmd", "Power factor command", { scale: 1000, unit: "" }),
  h(63, "power_soft_start_slope", "Power soft start slope", { ...RAW, unit: "‰/min" }),
  h(64, "charge_power_percent_cmd", "Charge rate", PCT),
  h(65, "dischg_power_percent_cmd", "Discharge rate", PCT),
  h(66, "ac_charge_power_cmd", "AC charge rate", PCT),
  h(67, "ac_charge_soc_limit", "AC charge SOC limit", PCT),
  ...slots(68, "ac_charge", "AC charge"),
  h(74, "forced_chg_power_cmd", "Charge priority rate", PCT),
  h(75, "forced_chg_soc_limit", "Charge priority SOC limit", PCT),
  ...slots(76, "forced_charge", "Charge priority"),
  h(82, "forced_dischg_power_cmd", "Forced discharge rate", PCT),
  h(83, "forced_dischg_soc_limit", "Forced discharge SOC limit", PCT),
  ...slots(84, "forced_discharge", "Forced discharge"),
  h(90, "eps_volt_set", "EPS voltage setting", { ...RAW, unit: "V" }),
  h(91, "eps_freq_set", "EPS frequency setting", { ...RAW, unit: "Hz" }),
  h(98, "auto_test_start", "Auto test start", RAW),
  h(99, "lead_acid_charge_volt_ref", "Lead-acid charge voltage", HV10),
  h(100, "lead_acid_discharge_cut_off_volt", "Lead-acid discharge cut-off voltage", HV10),
  h(101, "lead_acid_charge_rate", "Lead-acid charge current", { ...RAW, unit: "A" }),
  h(102, "lead_acid_discharge_rate", "Lead-acid discharge current", { ...RAW, unit: "A" }),
  h(103, "feed_in_grid_power_percent", "Feed-in (export) limit", PCT),
  h(104, "dischg_chg_sw_cmd", "Discharge/charge switch command", RAW),
  h(105, "dischg_cut_off_soc_eod", "Discharge cut-off SOC (on-grid EOD)", PCT),
  h(106, "lead_acid_tempr_lower_limit_dischg", "Lead-acid discharge temperature low limit", {
    scale: 10,
    unit: "°C",
    signed: true,
  }),
  h(107, "lead_acid_tempr_upper_limit_dischg", "Lead-acid discharge temperature high limit", {
    scale: 10,
    unit: "°C",
    signed: true,
  }),
  h(108, "lead_acid_tempr_lower_limit_chg", "Lead-acid charge temperature low limit", {
    scale: 10,
    unit: "°C",
    signed: true,
  }),
  h(109, "lead_acid_tempr_upper_limit_chg", "Lead-acid charge temperature high limit", {
    scale: 10,
    unit: "°C",
    signed: true,
  }),
  h(110, "func_en_1", "Function enable bits 1", BITS),
  h(112, "set_master_or_slave", "System type (master/slave)", RAW),
  h(113, "set_composed_phase", "Composed phase (1 R, 2 S, 3 T)", RAW),
  h(114, "clear_parallel_fault", "Clear parallel fault", RAW),
  h(115, "ovf_derate_start_point", "Over-frequency derate start", HHZ100),
  h(116, "p_to_user_start_dischg", "Import power that starts discharging", { ...RAW, unit: "W" }),
  h(118, "vbat_start_derating", "Battery voltage derating start", HV10),
  h(119, "ct_power_offset", "Grid CT power offset", { ...RAW, unit: "W", signed: true }),
  h(120, "sys_enable", "System enable bits (AC charge type, discharge control)", BITS),
  h(122, "maintenance_count", "Maintenance count", RAW),
  h(124, "ovf_derate_end_point", "Over-frequency derate end", HHZ100),
  h(125, "soc_low_limit_eps_dischg", "EPS discharge cut-off SOC", PCT),
  ...Array.from(
    { length: 6 },
    (_, n) => h(126 + n, `optimal_chg_dischg_${n + 1}`, `Half-hour charge/discharge plan ${n + 1}`, BITS),
  ),
  h(137, "spec_load_compensate", "Specific load compensation", { ...RAW, unit: "W" }),
  h(138, "charge_power_fine", "Charge rate (0.1 %)", { scale: 10, unit: "%" }),
  h(139, "dischg_power_fine", "Discharge rate (0.1 %)", { scale: 10, unit: "%" }),
  h(140, "ac_charge_power_fine", "AC charge rate (0.1 %)", { scale: 10, unit: "%" }),
  h(141, "forced_chg_power_fine", "Charge priority rate (0.1 %)", { scale: 10, unit: "%" }),
  h(142, "forced_dischg_power_fine", "Forced discharge rate (0.1 %)", { scale: 10, unit: "%" }),
  h(143, "active_power_fine", "Active power (0.1 %)", { scale: 10, unit: "%" }),
  h(144, "floating_voltage", "Float voltage", HV10),
  h(145, "output_configuration", "Output priority (0 battery, 1 PV, 2 AC)", RAW),
  h(146, "line_mode_input", "Line mode input (0 APL, 1 UPS, 2 GEN)", RAW),
  h(147, "battery_capacity", "Battery capacity", { ...RAW, unit: "Ah" }),
  h(148, "nominal_battery_voltage", "Nominal battery voltage", HV10),
  h(149, "equalization_voltage", "Equalization voltage", RAW),
  h(150, "equalization_period", "Equalization period", { ...RAW, unit: "d" }),
  h(151, "equalization_time", "Equalization time", { ...RAW, unit: "h" }),
  ...slots(152, "ac_first", "AC first"),
  h(158, "ac_charge_start_battery_voltage", "AC charge start battery voltage", HV10),
  h(159, "ac_charge_end_battery_voltage", "AC charge end battery voltage", HV10),
  h(160, "ac_charge_start_battery_soc", "AC charge start SOC", PCT),
  h(161, "ac_charge_end_battery_soc", "AC charge end SOC", PCT),
  h(162, "battery_warning_voltage", "Battery warning voltage", HV10),
  h(163, "battery_warning_recovery_voltage", "Battery warning recovery voltage", HV10),
  h(164, "battery_warning_soc", "Battery warning SOC", PCT),
  h(165, "battery_warning_recovery_soc", "Battery warning recovery SOC", PCT),
  h(166, "battery_low_to_utility_voltage", "Battery low → utility voltage", HV10),
  h(167, "battery_low_to_utility_soc", "Battery low → utility SOC", PCT),
  h(168, "ac_charge_battery_current", "AC charge battery current", { ...RAW, unit: "A" }),
  h(169, "on_grid_eod_voltage", "On-grid end-of-discharge voltage", HV10),
  h(176, "max_grid_input_power", "Max grid input power", { ...RAW, unit: "W" }),
  h(177, "max_generator_input_power", "Max generator input power", { ...RAW, unit: "W" }),
  h(179, "func_en_2", "Function enable bits 2", BITS),
], "hold");

// ---------------------------------------------------------------------------------------------------------
// Keys of the inputs JSON that are sums or differences of registers (inputs.ts computes them), with the
// same descriptive fields as a register entry.

export interface DerivedInputDef {
  key: string;
  name: string;
  unit: string;
  deviceClass?: string;
  stateClass?: string;
  icon?: string;
  diagnostic?: boolean;
}

const DERIVED_INPUTS: readonly DerivedInputDef[] = [
  { key: "p_pv", name: "PV power", unit: "W", deviceClass: "power", stateClass: "measurement" },
  {
    key: "e_pv_day",
    name: "PV energy today",
    unit: "kWh",
    deviceClass: "energy",
    stateClass: "total_increasing",
  },
  {
    key: "e_pv_all",
    name: "PV energy total",
    unit: "kWh",
    deviceClass: "energy",
    stateClass: "total_increasing",
  },
  {
    key: "p_battery",
    name: "Battery power (+ charge, − discharge)",
    unit: "W",
    deviceClass: "power",
    stateClass: "measurement",
  },
  {
    key: "p_grid",
    name: "Grid power (+ import, − export)",
    unit: "W",
    deviceClass: "power",
    stateClass: "measurement",
  },
];

export function findDerivedInput(key: string): DerivedInputDef | undefined {
  return DERIVED_INPUTS.find((d) => d.key === key);
}

// ---------------------------------------------------------------------------------------------------------
// Lookup and value decoding

const INPUT_BY_REG: (RegisterDef | undefined)[] = [];
const HOLD_BY_REG: (RegisterDef | undefined)[] = [];
const BY_KEY = new Map<string, RegisterDef>();
for (const d of INPUT_REGISTERS) {
  INPUT_BY_REG[d.register] ??= d;
  BY_KEY.set(`input:${d.key}`, d);
}
for (const d of HOLD_REGISTERS) {
  HOLD_BY_REG[d.register] ??= d;
  BY_KEY.set(`hold:${d.key}`, d);
}

/** The entry that starts at `register` (input 5: soc; use registersAt for soh). */
export function findRegister(bank: "input" | "hold", register: number): RegisterDef | undefined {
  return bank === "input" ? INPUT_BY_REG[register] : HOLD_BY_REG[register];
}

/** Every entry that covers `register` (both bytes of input 5; the high word of a 32-bit pair). */
export function registersAt(bank: "input" | "hold", register: number): RegisterDef[] {
  const table = bank === "input" ? INPUT_REGISTERS : HOLD_REGISTERS;
  return table.filter((d) => register >= d.register && register < d.register + d.words);
}

/** Look an entry up by key, e.g. ("input", "v_bat"). */
export function findByKey(bank: "input" | "hold", key: string): RegisterDef | undefined {
  return BY_KEY.get(`${bank}:${key}`);
}

/** The raw (unscaled) value: byte selection, 32-bit joining (low word first), sign. */
function rawValue(def: RegisterDef, words: number[]): number {
  let raw: number;
  if (def.words === 2) {
    raw = (words[0] & 0xffff) + (words[1] & 0xffff) * 65536;
    if (def.signed && raw >= 0x80000000) raw -= 0x100000000;
    return raw;
  }
  raw = words[0] & 0xffff;
  if (def.byte === "lo") return raw & 0xff;
  if (def.byte === "hi") return raw >>> 8;
  if (def.signed && raw >= 0x8000) raw -= 0x10000;
  return raw;
}

/** Power factor per the official encoding. */
export function decodePf(raw: number): number {
  if (raw > 0 && raw <= 1000) return raw / 1000;
  if (raw > 1000 && raw < 2000) return (1000 - raw) / 1000;
  return 0;
}

/** words = raw u16s starting at def.register. Result rounded to the register's resolution. */
export function scaledValue(def: RegisterDef, words: number[]): number {
  const raw = rawValue(def, words);
  if (def.kind === "pf") return decodePf(raw);
  return def.scale === 1 ? raw : raw / def.scale; // integer / 10^k is the nearest double to the decimal
}

function decimals(scale: number): number {
  return scale <= 1 ? 0 : Math.round(Math.log10(scale));
}

const pad2 = (n: number) => String(n).padStart(2, "0");

/** Human text of a value as returned by scaledValue, e.g. "52.8 V", "06:30", "0xF354". */
export function formatValue(def: RegisterDef, value: number): string {
  const withUnit = (s: string) => (def.unit ? `${s} ${def.unit}` : s);
  switch (def.kind) {
    case "status":
      return `${statusText(value)} (${value})`;
    case "fault": {
      const t = faultTexts(value);
      return t.length ? t.join(", ") : "none";
    }
    case "warning": {
      const t = warningTexts(value);
      return t.length ? t.join(", ") : "none";
    }
    case "bits":
    case "hex":
      return "0x" + value.toString(16).toUpperCase().padStart(def.words * 4, "0");
    case "ascii":
      return JSON.stringify(asciiText([value]));
    case "time":
      return `${pad2(value & 0xff)}:${pad2(value >>> 8)}`;
    case "clock": {
      const lo = value & 0xff, hi = value >>> 8;
      if (def.register === 12) return `year 20${pad2(lo)}, month ${pad2(hi)}`;
      if (def.register === 13) return `day ${pad2(lo)}, hour ${pad2(hi)}`;
      return `minute ${pad2(lo)}, second ${pad2(hi)}`;
    }
    case "pf":
      return value.toFixed(3);
    default:
      return withUnit(value.toFixed(decimals(def.scale)));
  }
}

/** Two ASCII characters per register, low byte first; NULs dropped. */
export function asciiText(words: number[]): string {
  let s = "";
  for (const w of words) {
    const lo = w & 0xff, hi = (w >>> 8) & 0xff;
    if (lo) s += String.fromCharCode(lo);
    if (hi) s += String.fromCharCode(hi);
  }
  return s;
}

/** Hold 12–14 → "2022-06-20 05:16:57" (the inverter has no time zone). */
export function inverterClock(h12: number, h13: number, h14: number): string {
  return `20${pad2(h12 & 0xff)}-${pad2(h12 >>> 8)}-${pad2(h13 & 0xff)} ${pad2(h13 >>> 8)}:${
    pad2(h14 & 0xff)
  }:${pad2(h14 >>> 8)}`;
}

/** Time-slot register value (hour + 256·minute) → "HH:MM", and back. */
export function slotTime(raw: number): string {
  return `${pad2(raw & 0xff)}:${pad2(raw >>> 8)}`;
}
export function slotRaw(hour: number, minute: number): number {
  return (hour & 0xff) | ((minute & 0xff) << 8);
}

// ---------------------------------------------------------------------------------------------------------
// Bit fields

export interface BitDef {
  bit: number;
  key: string;
  name: string;
}

export const REG21_BITS: readonly BitDef[] = [
  { bit: 0, key: "eps_en", name: "EPS (off-grid output) enable" },
  { bit: 1, key: "ovf_load_derate_en", name: "Over-frequency load derate enable" },
  { bit: 2, key: "drms_en", name: "DRMS enable" },
  { bit: 3, key: "lvrt_en", name: "Low-voltage ride-through enable" },
  { bit: 4, key: "anti_island_en", name: "Anti-islanding enable" },
  { bit: 5, key: "neutral_detect_en", name: "Neutral detection enable" },
  { bit: 6, key: "grid_on_power_ss_en", name: "Grid-on power soft start enable" },
  { bit: 7, key: "ac_charge_en", name: "AC charge enable" },
  { bit: 8, key: "sw_seamless_en", name: "Seamless switching enable" },
  { bit: 9, key: "set_to_standby", name: "Power on (0 = standby)" },
  { bit: 10, key: "forced_discharge_en", name: "Forced discharge enable" },
  { bit: 11, key: "charge_priority_en", name: "Charge priority (forced charge) enable" },
  { bit: 12, key: "iso_en", name: "Insulation detection enable" },
  { bit: 13, key: "gfci_en", name: "GFCI enable" },
  { bit: 14, key: "dci_en", name: "DCI enable" },
  { bit: 15, key: "feed_in_grid_en", name: "Feed-in to grid enable" },
];

export const REG110_BITS: readonly BitDef[] = [
  { bit: 0, key: "ub_pv_grid_off_en", name: "PV grid-off enable" },
  { bit: 1, key: "ub_run_without_grid", name: "Run without grid (official: fast zero export)" },
  { bit: 2, key: "ub_micro_grid_en", name: "Micro-grid enable" },
  { bit: 3, key: "bat_shared", name: "Battery shared (parallel)" },
  { bit: 4, key: "chg_last_en", name: "Charge last enable" },
];

/** The holding registers whose bits have names (21 func_en, 110 func_en_1). */
export const HOLD_BIT_FIELDS: Readonly<Record<number, readonly BitDef[]>> = {
  21: REG21_BITS,
  110: REG110_BITS,
};

/** Named bits of a holding register → { key: on }; undefined when its bits have no names. */
export function decodeBits(register: number, raw: number): Record<string, boolean> | undefined {
  const bits = HOLD_BIT_FIELDS[register];
  if (!bits) return undefined;
  const out: Record<string, boolean> = {};
  for (const b of bits) out[b.key] = ((raw >>> b.bit) & 1) === 1;
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Status, fault and warning texts

export const STATUS_TEXTS: Readonly<Record<number, string>> = {
  0x00: "standby",
  0x01: "fault",
  0x02: "firmware updating",
  0x04: "PV on-grid",
  0x08: "PV charge",
  0x0c: "PV charge + on-grid",
  0x10: "battery on-grid",
  0x11: "bypass",
  0x14: "PV + battery on-grid",
  0x19: "PV charge + bypass",
  0x20: "AC charge",
  0x28: "PV + AC charge",
  0x40: "battery off-grid",
  0x80: "PV off-grid",
  0x88: "PV charge + off-grid",
  0xc0: "PV + battery off-grid",
};

export function statusText(code: number): string {
  return STATUS_TEXTS[code] ?? `unknown status 0x${code.toString(16).padStart(2, "0")}`;
}

export const FAULT_TEXTS: Readonly<Record<number, string>> = {
  0: "internal communication fault 1",
  1: "model fault",
  2: "BatOnMos fail",
  3: "CT fail",
  8: "parallel CAN communication lost",
  9: "master unit lost",
  10: "multiple master units",
  11: "AC input inconsistent (parallel)",
  12: "UPS short circuit",
  13: "reverse current on UPS output",
  14: "bus short circuit",
  15: "phase error (3-phase parallel)",
  16: "relay check fault",
  17: "internal communication fault 2",
  18: "internal communication fault 3",
  19: "bus voltage high",
  20: "EPS connection fault",
  21: "PV voltage high",
  22: "over-current",
  23: "neutral fault",
  24: "PV short circuit",
  25: "radiator temperature out of range",
  26: "internal fault",
  27: "main/redundant CPU sample mismatch",
  31: "internal communication fault 4",
};

export const WARNING_TEXTS: Readonly<Record<number, string>> = {
  0: "battery communication failure",
  1: "AFCI communication failure",
  2: "AFCI high",
  3: "meter communication failure",
  4: "charge and discharge forbidden by battery",
  5: "auto test failed",
  7: "LCD communication failure",
  8: "firmware version mismatch",
  9: "fan stuck",
  11: "parallel number out of range",
  12: "BatOnMos",
  13: "over-temperature",
  15: "battery reversed",
  16: "grid power outage",
  17: "grid voltage out of range",
  18: "grid frequency out of range",
  20: "PV insulation low",
  21: "leakage current high",
  22: "DCI high",
  23: "PV short circuit",
  25: "battery voltage high",
  26: "battery voltage low",
  27: "battery open circuit",
  28: "EPS overload",
  29: "EPS voltage high",
  30: "meter reversed",
  31: "DCV high",
};

function bitTexts(raw32: number, prefix: string, table: Readonly<Record<number, string>>): string[] {
  const out: string[] = [];
  for (let b = 0; b < 32; b++) {
    if (Math.floor(raw32 / 2 ** b) % 2 === 1) {
      out.push(`${prefix}${String(b).padStart(3, "0")} ${table[b] ?? "unknown"}`);
    }
  }
  return out;
}

/** Set bits of inputs 60–61 → ["E000 internal communication fault 1", …] (lowest bit first). */
export function faultTexts(raw32: number): string[] {
  return bitTexts(raw32, "E", FAULT_TEXTS);
}

/** Set bits of inputs 62–63 → ["W000 battery communication failure", …] (lowest bit first). */
export function warningTexts(raw32: number): string[] {
  return bitTexts(raw32, "W", WARNING_TEXTS);
}
