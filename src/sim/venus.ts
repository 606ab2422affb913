// A simulated Venus system: com.victronenergy.* services on a bus, implementing the BusItem interface
// (GetValue, GetText, SetValue, GetItems, root/subtree GetValue, Introspect; PropertiesChanged and
// ItemsChanged signals; settings with Min/Max/Default and range-checked writes).
//
// Test hooks: take a service off the bus and back (pvinverter "night"), a misbehaving service that never
// answers GetItems, --scale N load services with 200 paths each, and a rate driver whose values are their
// own send time (epoch milliseconds) for latency measurement.

import type { Logger } from "../log.ts";
import {
  BUS_ITEM,
  type DbusMessage,
  DbusMessageClass as Message,
  DbusVariantClass as Variant,
  isMethodCall,
  RawBus,
  toDbusVariant,
} from "../venus/bus.ts";
import { errText } from "../venus/errors.ts";
import {
  type DbusVariant,
  isInvalidVariant,
  jsonToVariant,
  type JsonValue,
  variantToJson,
} from "../venus/variant.ts";

// ------------------------------------------------------------------------------------------------
// Values

const d = (x: number): DbusVariant => ({ signature: "d", value: x });
const i = (x: number): DbusVariant => ({ signature: "i", value: x });
const s = (x: string): DbusVariant => ({ signature: "s", value: x });
const INVALID = (): DbusVariant => ({ signature: "ai", value: [] });

export interface SimItem {
  value: DbusVariant;
  /** SetValue accepted (velib "writeable"). */
  writable?: boolean;
  /** Setting (localsettings): Min/Max/Default in GetItems, range-checked writes returning -1. */
  setting?: { min: number; max: number; default: JsonValue; type: "i" | "f" | "s" };
  /** A callback-style check (velib onchangecallback): false → SetValue returns 2. */
  accept?: (v: JsonValue) => boolean;
  unit?: string;
  hex?: boolean;
}

function textOf(item: SimItem): string {
  const v = item.value;
  if (isInvalidVariant(v)) return "---";
  const j = variantToJson(v);
  if (item.hex && typeof j === "number") return "0x" + j.toString(16).toUpperCase();
  if (typeof j === "number" && item.unit) return `${Math.round(j * 100) / 100}${item.unit}`;
  return typeof j === "string" ? j : JSON.stringify(j);
}

export interface SimServiceDef {
  name: string;
  items: Record<string, SimItem>;
  /** Never answer GetItems (nor GetValue on /) — a hung service. */
  misbehaving?: boolean;
  /**
   * Older services: "getvalue" = no GetItems (UnknownMethod); "introspect" = neither GetItems nor GetValue on
   * "/"; "absurd" = GetItems answers a string and GetValue on "/" an integer.
   */
  legacy?: "getvalue" | "introspect" | "absurd";
}

function generic(o: {
  instance: number;
  productId: number;
  productName: string;
  process: string;
  connection: string;
  serial: string;
  firmware?: number;
}): Record<string, SimItem> {
  return {
    "/Mgmt/ProcessName": { value: s(o.process) },
    "/Mgmt/ProcessVersion": { value: s("1.0.0-sim") },
    "/Mgmt/Connection": { value: s(o.connection) },
    "/DeviceInstance": { value: i(o.instance) },
    "/ProductId": { value: i(o.productId), hex: true },
    "/ProductName": { value: s(o.productName) },
    "/CustomName": { value: s(""), writable: true },
    "/FirmwareVersion": { value: i(o.firmware ?? 0x0501) },
    "/HardwareVersion": { value: s("1") },
    "/Connected": { value: i(1) },
    "/Serial": { value: s(o.serial) },
  };
}

/** The realistic base system (spec §7). */
function baseServices(portalId: string): SimServiceDef[] {
  return [
    {
      name: "com.victronenergy.system",
      items: {
        "/DeviceInstance": { value: i(0) },
        "/Serial": { value: s(portalId) },
        "/Mgmt/ProcessName": { value: s("dbus-systemcalc-py") },
        "/Mgmt/ProcessVersion": { value: s("2.150") },
        "/Mgmt/Connection": { value: s("data from other dbus processes") },
        "/ProductId": { value: i(0xa3a1), hex: true },
        "/ProductName": { value: s("Cerbo GX (sim)") },
        "/Connected": { value: i(1) },
        "/Ac/Consumption/L1/Power": { value: d(1234), unit: "W" },
        "/Ac/Consumption/Total/Power": { value: d(1234), unit: "W" },
        "/Ac/ConsumptionOnOutput/L1/Power": { value: d(950), unit: "W" },
        "/Ac/Grid/L1/Power": { value: d(-100), unit: "W" },
        "/Ac/PvOnGrid/L1/Power": { value: d(936), unit: "W" },
        "/Dc/Battery/Soc": { value: d(87.5), unit: "%" },
        "/Dc/Battery/Voltage": { value: d(52.1), unit: "V" },
        "/Dc/Battery/Current": { value: d(-3.2), unit: "A" },
        "/Dc/Battery/Power": { value: d(-167), unit: "W" },
        "/Dc/Pv/Power": { value: INVALID() },
        "/SystemState/State": { value: i(9) },
        "/VebusService": { value: s("com.victronenergy.vebus.ttyO1") },
      },
    },
    {
      name: "com.victronenergy.vebus.ttyO1",
      items: {
        ...generic({
          instance: 257,
          productId: 0x2623,
          productName: "MultiPlus-II 48/5000/70-50",
          process: "mk2-dbus",
          connection: "VE.Bus",
          serial: "HQ2023SIM01",
          firmware: 0x502,
        }),
        "/Mode": { value: i(3), writable: true, accept: (v) => v === 1 || v === 2 || v === 3 || v === 4 },
        "/State": { value: i(9) },
        "/Ac/ActiveIn/L1/P": { value: d(-100), unit: "W" },
        "/Ac/Out/L1/P": { value: d(950), unit: "W" },
        "/Ac/Out/L1/V": { value: d(230.1), unit: "V" },
        "/Ac/ActiveIn/CurrentLimit": { value: d(16), writable: true, unit: "A" },
        "/Hub4/L1/AcPowerSetpoint": { value: i(0), writable: true, accept: (v) => typeof v === "number" },
        "/Hub4/DisableCharge": { value: i(0), writable: true },
        "/Hub4/DisableFeedIn": { value: i(0), writable: true },
        "/Soc": { value: d(87.5), unit: "%" },
        "/Dc/0/Voltage": { value: d(52.1), unit: "V" },
        // The MK2 tunnel of mk2-dbus (a blocked item: never published on MQTT, spec §1).
        "/Interfaces/Mk2/Tunnel": { value: { signature: "ay", value: new Uint8Array([0x05, 0xff, 0x57]) } },
      },
    },
    {
      name: "com.victronenergy.pvinverter.cgwacs_ttyUSB0_mb1",
      items: {
        ...generic({
          instance: 20,
          productId: 0xb098,
          productName: "Fronius Symo (sim)",
          process: "dbus-cgwacs",
          connection: "Modbus TCP",
          serial: "FR12345678",
        }),
        "/Ac/Power": { value: d(936), unit: "W" },
        "/Ac/L1/Power": { value: d(936), unit: "W" },
        "/Ac/L2/Power": { value: INVALID() },
        "/Ac/L3/Power": { value: INVALID() },
        "/Ac/L1/Voltage": { value: d(231.5), unit: "V" },
        "/Ac/L1/Current": { value: d(4.04), unit: "A" },
        "/Ac/Energy/Forward": { value: d(12345.6), unit: "kWh" },
        "/Position": { value: i(1), writable: true },
        "/StatusCode": { value: i(7) },
        "/ErrorCode": { value: i(0) },
      },
    },
    {
      name: "com.victronenergy.battery.socketcan_can0",
      items: {
        ...generic({
          instance: 512,
          productId: 0xb004,
          productName: "Lynx Smart BMS (sim)",
          process: "dbus-valence",
          connection: "VE.Can",
          serial: "HQ2023BMS01",
        }),
        "/Soc": { value: d(87.5), unit: "%" },
        "/Dc/0/Voltage": { value: d(52.1), unit: "V" },
        "/Dc/0/Current": { value: d(-3.2), unit: "A" },
        "/Dc/0/Power": { value: d(-167), unit: "W" },
        "/Dc/0/Temperature": { value: d(21.5), unit: "°C" },
        "/ConsumedAmphours": { value: d(-12.4), unit: "Ah" },
        "/TimeToGo": { value: INVALID() },
        "/Info/MaxChargeVoltage": { value: d(55.2), unit: "V" },
        "/Info/MaxChargeCurrent": { value: d(70), unit: "A" },
        "/Info/MaxDischargeCurrent": { value: d(100), unit: "A" },
        "/Alarms/LowVoltage": { value: i(0) },
      },
    },
    {
      name: "com.victronenergy.settings",
      items: {
        "/Settings/CGwacs/AcPowerSetPoint": {
          value: i(50),
          setting: { min: -100000, max: 100000, default: 50, type: "i" },
        },
        "/Settings/CGwacs/Hub4Mode": { value: i(1), setting: { min: 1, max: 3, default: 1, type: "i" } },
        "/Settings/CGwacs/BatteryLife/MinimumSocLimit": {
          value: d(10),
          setting: { min: 0, max: 100, default: 10, type: "f" },
        },
        "/Settings/CGwacs/MaxDischargePower": {
          value: d(-1),
          setting: { min: -1, max: 100000, default: -1, type: "f" },
        },
        "/Settings/SystemSetup/SystemName": {
          value: s(""),
          setting: { min: 0, max: 0, default: "", type: "s" },
        },
        "/Settings/Vrmlogger/LogInterval": {
          value: i(900),
          setting: { min: 60, max: 86400, default: 900, type: "i" },
        },
      },
    },
  ];
}

const LOAD_PATHS_PER_SERVICE = 200;

/** Load-test service k (0-based): 11 generic paths + 189 data paths = 200 paths. */
function loadService(k: number): SimServiceDef {
  const items: Record<string, SimItem> = generic({
    instance: 1000 + k,
    productId: 0xfffe,
    productName: `Load test ${k}`,
    process: "ess2mqtt-sim",
    connection: "sim",
    serial: `LOAD${String(k).padStart(6, "0")}`,
  });
  const n = LOAD_PATHS_PER_SERVICE - Object.keys(items).length;
  for (let j = 0; j < n; j++) items[`/Load/P${String(j).padStart(3, "0")}`] = { value: d(j) };
  return { name: `com.victronenergy.loadtest.s${String(k).padStart(3, "0")}`, items };
}

function misbehavingService(): SimServiceDef {
  return {
    name: "com.victronenergy.meteo.misbehaving",
    misbehaving: true,
    items: { "/DeviceInstance": { value: i(99) }, "/Irradiance": { value: d(800) } },
  };
}

// ------------------------------------------------------------------------------------------------
// One service on the bus

const UNKNOWN_OBJECT = "org.freedesktop.DBus.Error.UnknownObject";
const UNKNOWN_METHOD = "org.freedesktop.DBus.Error.UnknownMethod";

class SimService {
  readonly name: string;
  readonly items = new Map<string, SimItem>();
  private rb?: RawBus;
  private stopped = false;
  private registered = false;
  private present = true;
  private reconnectTimer?: ReturnType<typeof setTimeout>;
  private connecting?: Promise<void>;
  stats = { calls: 0, signals: 0, writes: 0, rejectedWrites: 0 };

  constructor(private def: SimServiceDef, private address: string, private logger: Logger) {
    this.name = def.name;
    for (const [p, it] of Object.entries(def.items)) this.items.set(p, { ...it, value: { ...it.value } });
  }

  /** On the bus (name owned)? */
  get onBus(): boolean {
    return this.registered && !!this.rb && !this.rb.isClosed;
  }

  async start(): Promise<void> {
    await this.connect();
  }

  private connect(): Promise<void> {
    this.connecting ??= (async () => {
      try {
        const rb = await RawBus.connect({ address: this.address, connectTimeoutMs: 5000 });
        if (this.stopped) {
          await rb.close();
          return;
        }
        this.rb = rb;
        rb.bus.addMethodHandler((m: DbusMessage) => this.onCall(rb, m));
        rb.onClose(() => {
          this.registered = false;
          if (!this.stopped) this.scheduleReconnect();
        });
        if (this.present) await this.register();
      } finally {
        this.connecting = undefined;
      }
    })();
    return this.connecting;
  }

  private scheduleReconnect() {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      this.connect().catch((err) => {
        this.logger.debug("sim service reconnect failed", { service: this.name, error: errText(err) });
        if (!this.stopped) this.scheduleReconnect();
      });
    }, 200);
  }

  private async register(): Promise<void> {
    const rb = this.rb;
    if (!rb || rb.isClosed) return;
    const r = await rb.requestName(this.name, 4);
    if (r !== 1 && r !== 4) throw new Error(`could not own ${this.name} (RequestName returned ${r})`);
    this.registered = true;
  }

  /** Take the service off the bus (its name loses its owner), like a PV inverter at night. */
  async goAway(): Promise<void> {
    this.present = false;
    const rb = this.rb;
    if (rb && !rb.isClosed && this.registered) {
      this.registered = false;
      await rb.releaseName(this.name);
    }
  }

  /** Put it back. */
  async comeBack(): Promise<void> {
    this.present = true;
    if (!this.registered) await this.register();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    await this.connecting?.catch(() => {});
    await this.rb?.close();
  }

  // ---------------------------------------------------------------------------------------------
  // Local changes (the "device" updates a value) → signals

  /**
   * Sets values locally and announces them: "props" = one PropertiesChanged per item, "items" = one
   * ItemsChanged on / for all of them, "both" = both (as newer velib does).
   */
  update(changes: Iterable<[string, DbusVariant]>, via: "props" | "items" | "both" = "props"): void {
    const batch: [string, SimItem][] = [];
    for (const [p, v] of changes) {
      let it = this.items.get(p);
      if (!it) this.items.set(p, it = { value: v });
      else it.value = v;
      batch.push([p, it]);
    }
    if (!this.onBus) return;
    if (via === "props" || via === "both") { for (const [p, it] of batch) this.emitPropertiesChanged(p, it); }
    if (via === "items" || via === "both") this.emitItemsChanged(batch);
  }

  private emitPropertiesChanged(path: string, it: SimItem) {
    this.stats.signals++;
    this.rb?.send(
      Message.newSignal(path, BUS_ITEM, "PropertiesChanged", "a{sv}", [
        { Value: toDbusVariant(it.value), Text: new Variant("s", textOf(it)) },
      ]),
    );
  }

  private emitItemsChanged(batch: [string, SimItem][]) {
    if (!batch.length) return;
    this.stats.signals++;
    const body: Record<string, Record<string, unknown>> = {};
    for (const [p, it] of batch) {
      body[p] = { Value: toDbusVariant(it.value), Text: new Variant("s", textOf(it)) };
    }
    this.rb?.send(Message.newSignal("/", BUS_ITEM, "ItemsChanged", "a{sa{sv}}", [body]));
  }

  // ---------------------------------------------------------------------------------------------
  // Method calls

  private reply(rb: RawBus, m: DbusMessage, signature: string, body: unknown[]) {
    rb.send(Message.newMethodReturn(m, signature, body));
  }

  private error(rb: RawBus, m: DbusMessage, name: string, text: string) {
    rb.send(Message.newError(m as unknown as string, name, text));
  }

  private subtree(path: string): [string, SimItem][] {
    const prefix = path === "/" ? "/" : path + "/";
    const out: [string, SimItem][] = [];
    for (const [p, it] of this.items) if (p.startsWith(prefix)) out.push([p.slice(prefix.length), it]);
    return out;
  }

  private onCall(rb: RawBus, m: DbusMessage): boolean {
    if (!isMethodCall(m)) return false;
    this.stats.calls++;
    const path = m.path;
    if (m.interface === "org.freedesktop.DBus.Introspectable" && m.member === "Introspect") {
      this.reply(rb, m, "s", [this.introspect(path)]);
      return true;
    }
    if (m.interface && m.interface !== BUS_ITEM) return false;
    const leaf = this.items.get(path);
    const node = leaf ? [] : this.subtree(path);
    try {
      switch (m.member) {
        case "GetItems": {
          if (this.def.misbehaving) return true; // never answer
          if (this.def.legacy === "absurd") return this.reply(rb, m, "s", ["nonsense"]), true;
          if (this.def.legacy) return false; // → UnknownMethod
          if (path !== "/") return this.error(rb, m, UNKNOWN_METHOD, "GetItems is only on /"), true;
          const body: Record<string, Record<string, unknown>> = {};
          for (const [p, it] of this.items) {
            const e: Record<string, unknown> = {
              Value: toDbusVariant(it.value),
              Text: new Variant("s", textOf(it)),
            };
            if (it.setting) {
              e.Min = toDbusVariant(jsonToVariant(it.setting.min));
              e.Max = toDbusVariant(jsonToVariant(it.setting.max));
              e.Default = toDbusVariant(jsonToVariant(it.setting.default));
            }
            body[p] = e;
          }
          this.reply(rb, m, "a{sa{sv}}", [body]);
          return true;
        }
        case "GetValue":
          if (leaf) return this.reply(rb, m, "v", [toDbusVariant(leaf.value)]), true;
          if (this.def.misbehaving && path === "/") return true;
          if (path === "/" && this.def.legacy === "introspect") return false;
          if (path === "/" && this.def.legacy === "absurd") {
            return this.reply(rb, m, "v", [new Variant("i", 42)]), true;
          }
          if (node.length) {
            const o: Record<string, unknown> = {};
            for (const [rel, it] of node) o[rel] = toDbusVariant(it.value);
            return this.reply(rb, m, "v", [new Variant("a{sv}", o)]), true;
          }
          return this.error(rb, m, UNKNOWN_OBJECT, `no item ${path}`), true;
        case "GetText":
          if (leaf) return this.reply(rb, m, "s", [textOf(leaf)]), true;
          if (node.length) {
            const o: Record<string, unknown> = {};
            for (const [rel, it] of node) o[rel] = new Variant("s", textOf(it));
            return this.reply(rb, m, "v", [new Variant("a{sv}", o)]), true;
          }
          return this.error(rb, m, UNKNOWN_OBJECT, `no item ${path}`), true;
        case "SetValue": {
          if (!leaf) return this.error(rb, m, UNKNOWN_OBJECT, `no item ${path}`), true;
          const rc = this.setValue(path, leaf, m.body[0] as DbusVariant);
          this.reply(rb, m, "i", [rc]);
          return true;
        }
        case "GetMin":
        case "GetMax":
        case "GetDefault": {
          if (!leaf?.setting) return this.error(rb, m, UNKNOWN_METHOD, `${m.member} only on settings`), true;
          const st = leaf.setting;
          const v = m.member === "GetMin" ? st.min : m.member === "GetMax" ? st.max : st.default;
          return this.reply(rb, m, "v", [toDbusVariant(jsonToVariant(v))]), true;
        }
        default:
          return false;
      }
    } catch (err) {
      this.logger.warn("sim call failed", {
        service: this.name,
        path,
        member: m.member,
        error: errText(err),
      });
      this.error(rb, m, "com.victronenergy.Error.Internal", errText(err));
      return true;
    }
  }

  /** SetValue semantics: 0 ok; 1 read-only; 2 rejected by the device; -1 setting out of range / wrong type. */
  private setValue(path: string, it: SimItem, v: DbusVariant): number {
    this.stats.writes++;
    const j = variantToJson(v);
    let nv: DbusVariant = v;
    if (it.setting) {
      const st = it.setting;
      if (st.type === "s") {
        if (typeof j !== "string") return this.rejected(-1);
        nv = { signature: "s", value: j };
      } else {
        if (typeof j !== "number" || j < st.min || j > st.max) return this.rejected(-1);
        nv = st.type === "i" ? { signature: "i", value: Math.round(j) } : { signature: "d", value: j };
      }
    } else if (!it.writable) return this.rejected(1);
    else if (it.accept && !it.accept(j)) return this.rejected(2);
    this.update([[path, { signature: nv.signature, value: nv.value }]], "both");
    return 0;
  }

  private rejected(rc: number): number {
    this.stats.rejectedWrites++;
    return rc;
  }

  private introspect(path: string): string {
    const header =
      '<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">\n';
    const children = new Set<string>();
    for (const [rel] of this.subtree(path)) children.add(rel.split("/")[0]);
    const iface = this.items.has(path) || path === "/"
      ? `<interface name="${BUS_ITEM}"><method name="GetValue"><arg direction="out" type="v"/></method>` +
        `<method name="GetText"><arg direction="out" type="s"/></method>` +
        `<method name="SetValue"><arg direction="in" type="v"/><arg direction="out" type="i"/></method>` +
        `<signal name="PropertiesChanged"><arg type="a{sv}"/></signal></interface>`
      : "";
    return header + `<node>${iface}${[...children].map((c) => `<node name="${c}"/>`).join("")}</node>`;
  }
}

// ------------------------------------------------------------------------------------------------
// The whole system

export interface VenusSimOptions {
  address: string;
  portalId?: string;
  /** Extra load-test services with 200 paths each. */
  scale?: number;
  /** Add a service that never answers GetItems. */
  misbehaving?: boolean;
  /** Period of the live value changes (default 1000 ms; 0 = no automatic changes). */
  tickMs?: number;
  /** Day/night cycle of the PV inverter: off for nightMs every cycleMs (0 = never). */
  nightCycleMs?: number;
  nightMs?: number;
  /** Register only the load-test services (benchmarks). */
  loadOnly?: boolean;
  /** More services (tests). */
  extra?: SimServiceDef[];
  logger: Logger;
}

export interface RateResult {
  /** Changes sent. */
  sent: number;
  /** Last value sent per relative topic (`loadtest/1000/Load/P000`). */
  last: Map<string, number>;
  /** Wall time actually used. */
  elapsedMs: number;
}

export const PVINVERTER = "com.victronenergy.pvinverter.cgwacs_ttyUSB0_mb1";

/** Epoch milliseconds with sub-millisecond resolution (comparable across processes on one machine). */
function nowEpochMs(): number {
  return performance.timeOrigin + performance.now();
}

export class VenusSim {
  readonly services = new Map<string, SimService>();
  readonly portalId: string;
  private timers: ReturnType<typeof setTimeout>[] = [];
  private stopped = false;
  private tickCount = 0;

  constructor(private o: VenusSimOptions) {
    this.portalId = o.portalId ?? "e0ff50a097c0";
    const defs = o.loadOnly ? [] : baseServices(this.portalId);
    for (let k = 0; k < (o.scale ?? 0); k++) defs.push(loadService(k));
    if (o.misbehaving) defs.push(misbehavingService());
    defs.push(...(o.extra ?? []));
    for (const def of defs) this.services.set(def.name, new SimService(def, o.address, o.logger));
  }

  /** Registers another service while running. */
  async addService(def: SimServiceDef): Promise<SimService> {
    const svc = new SimService(def, this.o.address, this.o.logger);
    this.services.set(def.name, svc);
    await svc.start();
    return svc;
  }

  service(name: string): SimService {
    const svc = this.services.get(name) ?? [...this.services.values()].find((x) => x.name.includes(name));
    if (!svc) throw new Error(`no simulated service ${name}`);
    return svc;
  }

  async start(): Promise<void> {
    const all = [...this.services.values()];
    for (let k = 0; k < all.length; k += 16) await Promise.all(all.slice(k, k + 16).map((x) => x.start()));
    const tick = this.o.tickMs ?? 1000;
    if (tick > 0) this.timers.push(setInterval(() => this.tick(), tick));
    const cycle = this.o.nightCycleMs ?? 0;
    if (cycle > 0) {
      const night = this.o.nightMs ?? Math.round(cycle / 4);
      this.timers.push(setInterval(() => {
        const pv = this.services.get(PVINVERTER);
        if (!pv) return;
        void pv.goAway().catch(() => {});
        this.o.logger.info("sim: night — pvinverter off the bus");
        const t = setTimeout(() => {
          void pv.comeBack().catch(() => {});
          this.o.logger.info("sim: morning — pvinverter back");
        }, night);
        this.timers.push(t);
      }, cycle));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t), clearInterval(t);
    this.timers = [];
    await Promise.all([...this.services.values()].map((x) => x.stop()));
  }

  /** Sets a value locally (as the device would) and announces it. */
  set(
    service: string,
    path: string,
    value: JsonValue | DbusVariant,
    via: "props" | "items" | "both" = "props",
  ): void {
    const v = value !== null && typeof value === "object" && "signature" in value &&
        typeof value.signature === "string"
      ? value as DbusVariant
      : jsonToVariant(value as JsonValue);
    this.service(service).update([[path, v]], via);
  }

  pvinverterOff(): Promise<void> {
    return this.service(PVINVERTER).goAway();
  }

  pvinverterOn(): Promise<void> {
    return this.service(PVINVERTER).comeBack();
  }

  /** The live changes: some services via PropertiesChanged, others via ItemsChanged. */
  private tick() {
    if (this.stopped) return;
    const t = ++this.tickCount;
    const wave = Math.sin(t / 10);
    const pv = Math.max(0, Math.round(936 + 300 * wave));
    const cons = Math.round(1234 + 200 * Math.cos(t / 7));
    const soc = Math.round((87.5 + 5 * Math.sin(t / 50)) * 10) / 10;
    const sys = this.services.get("com.victronenergy.system");
    sys?.update([
      ["/Ac/Consumption/L1/Power", d(cons)],
      ["/Ac/Consumption/Total/Power", d(cons)],
      ["/Ac/PvOnGrid/L1/Power", d(pv)],
      ["/Ac/Grid/L1/Power", d(cons - pv)],
      ["/Dc/Battery/Soc", d(soc)],
    ], "props");
    this.services.get("com.victronenergy.battery.socketcan_can0")?.update([
      ["/Soc", d(soc)],
      ["/Dc/0/Current", d(Math.round(-3.2 * wave * 10) / 10)],
    ], "props");
    this.services.get(PVINVERTER)?.update([
      ["/Ac/Power", d(pv)],
      ["/Ac/L1/Power", d(pv)],
      ["/Ac/L1/Current", d(Math.round((pv / 231.5) * 100) / 100)],
    ], "items");
    this.services.get("com.victronenergy.vebus.ttyO1")?.update([
      ["/Ac/Out/L1/P", d(Math.round(cons * 0.77))],
      ["/Soc", d(soc)],
    ], "items");
  }

  /** Load-test services (sorted by name). */
  loadServices(): SimService[] {
    return [...this.services.values()].filter((x) => x.name.includes(".loadtest.")).sort((a, b) =>
      a.name < b.name ? -1 : 1
    );
  }

  /**
   * Drives `rate` changes per second for `durationMs` over the load-test services' data paths (round robin),
   * each value being its send time in epoch milliseconds. `via` picks the signal.
   */
  async runRate(rate: number, durationMs: number, via: "props" | "items" = "props"): Promise<RateResult> {
    const targets: { svc: SimService; path: string; rel: string }[] = [];
    for (const svc of this.loadServices()) {
      const inst = variantToJson(svc.items.get("/DeviceInstance")!.value);
      for (const p of svc.items.keys()) {
        if (p.startsWith("/Load/")) targets.push({ svc, path: p, rel: `loadtest/${inst}${p}` });
      }
    }
    if (!targets.length) throw new Error("runRate needs --scale ≥ 1");
    const last = new Map<string, number>();
    const start = performance.now();
    let sent = 0;
    let k = 0;
    const total = Math.round((rate * durationMs) / 1000);
    while (sent < total && !this.stopped) {
      const due = Math.min(total, Math.floor(((performance.now() - start) * rate) / 1000) + 1);
      const byService = new Map<SimService, [string, DbusVariant][]>();
      while (sent < due) {
        const t = targets[k++ % targets.length];
        const v = nowEpochMs();
        last.set(t.rel, v);
        if (via === "props") t.svc.update([[t.path, d(v)]], "props");
        else {
          let b = byService.get(t.svc);
          if (!b) byService.set(t.svc, b = []);
          b.push([t.path, d(v)]);
        }
        sent++;
      }
      for (const [svc, b] of byService) svc.update(b, "items");
      await new Promise((r) => setTimeout(r, 1));
    }
    return { sent, last, elapsedMs: performance.now() - start };
  }
}
