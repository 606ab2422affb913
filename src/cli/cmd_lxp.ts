// LuxPower one-shot commands: read-input, read-hold, write-hold, set, lxp decode, sim inverter.
//
// Nothing here is imported statically except types and the exit-code table: the codec, the register
// table, the client and the simulator are loaded inside the actions, so `ess2mqtt --help` and other
// commands do not pay for them. The one-shot path loads only client/frame/registers (+ the pure
// inputs/commands tables where the command needs them).
//
// Register operations go through a RegisterTransport so the link can be swapped: `--via lxp` (direct TCP
// to the dongle, implemented here) or `--via mqtt` (through a running bridge; registered in
// `transportFactories` by the MQTT side).

import type { Command } from "@commander-js/extra-typings";
import type { CliContext, ProgramWithGlobals } from "./main.ts";
import { CliError, ExitCode, toCliError } from "./errors.ts";
import type { Logger } from "../log.ts";
import type { RegisterDef } from "../lxp/registers.ts";
import type { Packet } from "../lxp/frame.ts";

// ---------------------------------------------------------------------------------------------------------
// Transport

/** The register operations the one-shot commands need; implemented over LXP TCP or over MQTT. */
export interface RegisterTransport {
  readHold(register: number, count?: number): Promise<number[]>;
  readInput(register: number, count?: number): Promise<number[]>;
  /** Resolves with the echoed value; rejects (exit 6) when the echo differs. */
  writeHold(register: number, value: number): Promise<number>;
  /** Atomic read-modify-write of one bit; resolves with the new register value. */
  updateBit(register: number, bit: number, on: boolean): Promise<number>;
  /** Transports that only see the bridge's JSON (MQTT) return an input block's octolux JSON instead of raw registers. */
  readInputBlock?(block: 1 | 2 | 3 | 4): Promise<Record<string, number>>;
  close(): Promise<void>;
}

/** Target/option overrides given on the command line (all optional; the config fills the rest). */
export interface TransportRequest {
  ctx: CliContext;
  host?: string;
  port?: number;
  datalog?: string;
  serial?: string;
  /** --timeout in ms, if given. */
  timeoutMs?: number;
  logger: Logger;
}

export type TransportFactory = (req: TransportRequest) => Promise<RegisterTransport>;

/**
 * `--via <name>` → factory. "lxp" is built in; the MQTT side adds "mqtt" (lazy import inside its factory).
 * Factories throw CliError (3 config, 4 unreachable, 5 broker unreachable) when they cannot open.
 */
export const transportFactories: Record<string, TransportFactory> = {
  lxp: openLxpTransport,
  mqtt: async (req) => {
    const { MqttRegisterTransport } = await import("./mqtt_transport.ts");
    return MqttRegisterTransport.open(req);
  },
};

export interface LxpTarget {
  host: string;
  port: number;
  datalog: string;
  serial: string;
  timeoutMs: number;
  connectTimeoutMs: number;
  heartbeats: boolean;
}

/** Merges command-line overrides with the [lxp] config section; exits 3 (config) or 2 (bad flag). */
export async function resolveLxpTarget(req: TransportRequest): Promise<LxpTarget> {
  const all = req.host !== undefined && req.port !== undefined && req.datalog !== undefined &&
    req.serial !== undefined;
  let cfg: {
    host: string;
    port: number;
    datalog: string;
    serial: string;
    heartbeats?: boolean;
    connect_timeout?: number;
    command_timeout?: number;
  } | undefined;
  if (!all) {
    const config = await req.ctx.loadConfig();
    cfg = config.lxp;
    if (!cfg) {
      throw new CliError(
        ExitCode.config,
        "the config has no [lxp] section: add one or give --host, --port, --datalog and --serial",
      );
    }
  }
  const host = req.host ?? cfg!.host;
  const port = req.port ?? cfg!.port;
  const datalog = req.datalog ?? cfg!.datalog;
  const serial = req.serial ?? cfg!.serial;
  const where = (
    flag: string,
  ) => (cfg && (req as unknown as Record<string, unknown>)[flag] === undefined
    ? `[lxp] ${flag}`
    : `--${flag}`);
  const code = (flag: string) => (where(flag).startsWith("[") ? ExitCode.config : ExitCode.usage);
  if (!host) throw new CliError(code("host"), `${where("host")}: host is empty`);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new CliError(code("port"), `${where("port")}: port must be 1..65535 (got "${port}")`);
  }
  for (const [flag, v] of [["datalog", datalog], ["serial", serial]] as const) {
    if (typeof v !== "string" || v.length !== 10) {
      throw new CliError(code(flag), `${where(flag)}: ${flag} must be exactly 10 characters (got "${v}")`);
    }
  }
  const timeoutMs = req.timeoutMs ?? Math.round((cfg?.command_timeout ?? 5) * 1000);
  const connectTimeoutMs = req.timeoutMs ?? Math.round((cfg?.connect_timeout ?? 5) * 1000);
  return { host, port, datalog, serial, timeoutMs, connectTimeoutMs, heartbeats: cfg?.heartbeats ?? false };
}

async function openLxpTransport(req: TransportRequest): Promise<RegisterTransport> {
  const target = await resolveLxpTarget(req);
  const { LxpClient, LxpError } = await import("../lxp/client.ts");
  const client = new LxpClient({
    host: target.host,
    port: target.port,
    datalog: target.datalog,
    serial: target.serial,
    connectTimeoutMs: target.connectTimeoutMs,
    requestTimeoutMs: target.timeoutMs,
    retries: 0,
    silenceTimeoutMs: 0,
    heartbeatEcho: target.heartbeats,
  }, req.logger);
  client.start();
  try {
    await client.waitConnected(target.connectTimeoutMs, true);
  } catch (e) {
    await client.stop();
    if (e instanceof LxpError) throw new CliError(ExitCode.deviceUnreachable, e.message);
    throw e;
  }
  return {
    readHold: (r, c) => client.readHold(r, c),
    readInput: (r, c) => client.readInput(r, c),
    writeHold: (r, v) => client.writeHold(r, v),
    updateBit: (r, b, on) => client.updateBit(r, b, on),
    close: () => client.stop(),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Argument parsing (strict; every message names the bad value)

function parseU16(what: string, text: string): number {
  const t = text.trim();
  let n = NaN;
  if (/^\d+$/.test(t)) n = Number(t);
  else if (/^0x[0-9a-f]+$/i.test(t)) n = parseInt(t.slice(2), 16);
  if (!Number.isInteger(n) || n < 0 || n > 0xffff) {
    throw new CliError(ExitCode.usage, `${what} must be an integer 0..65535, got "${text}"`);
  }
  return n;
}

function parseCount(text: string): number {
  const t = text.trim();
  const n = /^\d+$/.test(t) ? Number(t) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 127) {
    throw new CliError(ExitCode.usage, `--count must be an integer 1..127, got "${text}"`);
  }
  return n;
}

function parsePort(text: string): number {
  const t = text.trim();
  const n = /^\d+$/.test(t) ? Number(t) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new CliError(ExitCode.usage, `--port must be an integer 0..65535, got "${text}"`);
  }
  return n;
}

function parseSeconds(flag: string, text: string, allowZero = false): number {
  const t = text.trim();
  const n = /^\d+(\.\d+)?$/.test(t) ? Number(t) : NaN;
  if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) {
    throw new CliError(ExitCode.usage, `${flag} must be a positive number of seconds, got "${text}"`);
  }
  return n;
}

function parseProbability(flag: string, text: string): number {
  const t = text.trim();
  const n = /^(0|1|0?\.\d+|1\.0*)$/.test(t) ? Number(t) : NaN;
  if (!Number.isFinite(n) || n < 0 || n > 1) {
    throw new CliError(ExitCode.usage, `${flag} must be a probability 0..1, got "${text}"`);
  }
  return n;
}

function parseSerial(flag: string, text: string): string {
  if (text.length !== 10) {
    throw new CliError(ExitCode.usage, `${flag} must be exactly 10 characters, got "${text}"`);
  }
  return text;
}

// ---------------------------------------------------------------------------------------------------------
// Output helpers

export interface RegisterEntry {
  register: number;
  words: number;
  key: string | null;
  name: string;
  raw: number;
  value: number;
  unit: string;
  text: string;
  bits?: Record<string, boolean>;
}

type Registers = typeof import("../lxp/registers.ts");

/** Names, scales and units for a run of raw register values (32-bit values combined when both words are present). */
export function describeRegisters(
  R: Registers,
  bank: "input" | "hold",
  start: number,
  values: number[],
): RegisterEntry[] {
  const out: RegisterEntry[] = [];
  for (let i = 0; i < values.length; i++) {
    const reg = start + i;
    const raw = values[i];
    const here = R.registersAt(bank, reg);
    const defs: RegisterDef[] = here.filter((d) => d.register === reg);
    let consumed = 1;
    for (const def of defs) {
      if (def.words === 2 && i + 1 >= values.length) {
        out.push(generic(reg, raw, `${def.name} (low word)`, null));
        continue;
      }
      const words = def.words === 2 ? [raw, values[i + 1]] : [raw];
      const value = R.scaledValue(def, words);
      const entry: RegisterEntry = {
        register: reg,
        words: def.words,
        key: def.key,
        name: def.name,
        raw: def.words === 2 ? raw + values[i + 1] * 65536 : raw,
        value,
        unit: def.unit,
        text: R.formatValue(def, value),
      };
      if (bank === "hold" && (reg === 21 || reg === 110)) entry.bits = R.decodeBits(reg, raw);
      out.push(entry);
      consumed = Math.max(consumed, def.words);
    }
    if (defs.length === 0) {
      const owner = here[0];
      out.push(generic(reg, raw, owner ? `${owner.name} (high word)` : "", null));
    }
    i += consumed - 1;
  }
  return out;
}

function generic(register: number, raw: number, name: string, key: string | null): RegisterEntry {
  return { register, words: 1, key, name, raw, value: raw, unit: "", text: String(raw) };
}

export function formatEntries(bank: "input" | "hold", entries: RegisterEntry[]): string {
  const lines: string[] = [];
  const nameWidth = Math.min(40, Math.max(4, ...entries.map((e) => e.name.length)));
  for (const e of entries) {
    const regText = e.words === 2 ? `${e.register}-${e.register + 1}` : String(e.register);
    const name = (e.name || "-").padEnd(nameWidth);
    const raw = e.value !== e.raw || !e.text.includes(String(e.raw)) ? `  (raw ${e.raw})` : "";
    lines.push(`${bank.padEnd(5)} ${regText.padStart(7)}  ${name}  ${e.text}${raw}`);
    if (e.bits) {
      const on = Object.entries(e.bits).filter(([, v]) => v).map(([k]) => k);
      const off = Object.entries(e.bits).filter(([, v]) => !v).map(([k]) => k);
      lines.push(`${"".padEnd(15)}on: ${on.join(" ") || "-"}`);
      lines.push(`${"".padEnd(15)}off: ${off.join(" ") || "-"}`);
    }
  }
  return lines.join("\n");
}

/** A logger for one-shot commands: warnings and errors only unless -v (the final error is printed anyway). */
function oneShotLogger(base: Logger, verbose: boolean): Logger {
  if (verbose) return base;
  const wrap = (l: Logger): Logger => ({
    debug() {},
    info() {},
    warn(msg, fields) {
      if (msg !== "cannot connect to dongle") l.warn(msg, fields);
    },
    error(msg, fields) {
      l.error(msg, fields);
    },
    child(fields) {
      return wrap(l.child(fields));
    },
  });
  return wrap(base);
}

// ---------------------------------------------------------------------------------------------------------
// Commands

interface CommonOpts {
  host?: string;
  port?: string;
  datalog?: string;
  serial?: string;
  timeout?: string;
  via: string;
}

function addCommon<C extends Command<any, any, any>>(cmd: C): C {
  cmd
    .option("--host <host>", "dongle host (overrides [lxp] host)")
    .option("--port <port>", "dongle TCP port (overrides [lxp] port)")
    .option("--datalog <serial>", "dongle (datalog) serial, 10 characters (overrides [lxp] datalog)")
    .option("--serial <serial>", "inverter serial, 10 characters (overrides [lxp] serial)")
    .option("--timeout <seconds>", "connect and reply timeout in seconds (default [lxp] command_timeout, 5)")
    .option(
      "--via <transport>",
      "lxp (direct TCP to the dongle) or mqtt (through a running bridge); default: lxp when [lxp] host is set or --host is given, else mqtt",
    )
    .option("--json", "print one JSON document on stdout");
  return cmd;
}

function subgroup(program: ProgramWithGlobals, name: string, description: string): Command<any, any, any> {
  const existing = program.commands.find((c) => c.name() === name);
  return existing ?? program.command(name).description(description);
}

/** `lxp` when the dongle is known (flags or [lxp] host), else `mqtt` (through a running bridge). */
async function defaultTransport(opts: CommonOpts, ctx: CliContext): Promise<string> {
  if (opts.host !== undefined || opts.port !== undefined) return "lxp";
  const config = await ctx.loadConfig();
  return config.lxp?.host ? "lxp" : "mqtt";
}

export function registerLxpCommands(program: ProgramWithGlobals, ctx: CliContext): void {
  const verbose = () => program.opts().verbose === true;
  const jsonOut = (opts: { json?: boolean }) => ctx.json || opts.json === true;
  const print = (opts: { json?: boolean }, human: string, doc: unknown) => {
    if (jsonOut(opts) && !ctx.json) {
      Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(doc, null, 2) + "\n"));
    } else ctx.print(human, doc);
  };

  /** Validates the common flags, opens the transport, runs fn, always closes. */
  async function withTransport<T>(opts: CommonOpts, fn: (t: RegisterTransport) => Promise<T>): Promise<T> {
    const via = opts.via ?? await defaultTransport(opts, ctx);
    const factory = transportFactories[via];
    if (!factory) {
      const known = Object.keys(transportFactories).join(", ");
      throw new CliError(ExitCode.usage, `--via ${via} is not available (available: ${known})`);
    }
    const req: TransportRequest = {
      ctx,
      host: opts.host,
      port: opts.port === undefined ? undefined : parsePort(opts.port),
      datalog: opts.datalog === undefined ? undefined : parseSerial("--datalog", opts.datalog),
      serial: opts.serial === undefined ? undefined : parseSerial("--serial", opts.serial),
      timeoutMs: opts.timeout === undefined
        ? undefined
        : Math.round(parseSeconds("--timeout", opts.timeout) * 1000),
      logger: oneShotLogger(ctx.logger(), verbose()),
    };
    if (req.port === 0) throw new CliError(ExitCode.usage, `--port must be 1..65535, got "0"`);
    const t = await factory(req).catch((e) => {
      throw toCliError(e);
    });
    try {
      return await fn(t);
    } catch (e) {
      throw toCliError(e);
    } finally {
      await t.close();
    }
  }

  // read-input <1|2|3|4|all>
  addCommon(
    program
      .command("read-input")
      .description("read input registers: block 1 (0–39), 2 (40–79), 3 (80–119), 4 (120–159) or all (0–159)")
      .argument("<block>", "1, 2, 3, 4 or all"),
  ).action(async (blockText: string, o: unknown) => {
    const opts = o as CommonOpts & { json?: boolean };
    const b = blockText.trim().toLowerCase();
    if (!["1", "2", "3", "4", "all"].includes(b)) {
      throw new CliError(ExitCode.usage, `input block must be 1, 2, 3, 4 or all, got "${blockText}"`);
    }
    const blocks = b === "all" ? [1, 2, 3, 4] as const : [Number(b) as 1 | 2 | 3 | 4];
    let viaJson: Record<string, number> | undefined;
    const values = await withTransport(opts, async (t) => {
      const out: number[] = [];
      if (t.readInputBlock) {
        // Over MQTT only the bridge's JSON is available: print its keys.
        viaJson = {};
        for (const n of blocks) Object.assign(viaJson, await t.readInputBlock(n));
        return out;
      }
      for (const n of blocks) out.push(...await t.readInput((n - 1) * 40, 40));
      return out;
    });
    const R = await import("../lxp/registers.ts");
    if (viaJson) {
      const { inputKeyUnit } = await import("../lxp/inputs.ts");
      const lines = Object.entries(viaJson).map(([key, value]) => {
        const unit = inputKeyUnit(key);
        return `${key.padEnd(18)} ${value}${unit ? " " + unit : ""}`;
      });
      print(opts, lines.join("\n"), {
        bank: "input",
        block: b === "all" ? "all" : Number(b),
        inputs: viaJson,
      });
      return;
    }
    const { inputsJson } = await import("../lxp/inputs.ts");
    const start = (blocks[0] - 1) * 40;
    const entries = describeRegisters(R, "input", start, values);
    const regs = (reg: number) => values[reg - start] ?? 0;
    const inputs: Record<string, number> = {};
    for (const n of blocks) Object.assign(inputs, inputsJson(n, regs));
    print(opts, formatEntries("input", entries), {
      bank: "input",
      block: b === "all" ? "all" : Number(b),
      register: start,
      count: values.length,
      values,
      inputs,
      registers: entries,
    });
  });

  // read-hold <reg> [--count N]
  addCommon(
    program
      .command("read-hold")
      .description("read holding registers")
      .argument("<register>", "first register (0..65535)")
      .option("--count <n>", "number of registers (1..127)", "1"),
  ).action(async (regText: string, o: unknown) => {
    const opts = o as CommonOpts & { count: string; json?: boolean };
    const register = parseU16("register", regText);
    const count = parseCount(opts.count);
    const values = await withTransport(opts, (t) => t.readHold(register, count));
    const R = await import("../lxp/registers.ts");
    const entries = describeRegisters(R, "hold", register, values);
    print(opts, formatEntries("hold", entries), {
      bank: "hold",
      register,
      count,
      values,
      registers: entries,
    });
  });

  // write-hold <reg> <value>
  addCommon(
    program
      .command("write-hold")
      .description("write one holding register and verify the echoed value")
      .argument("<register>", "register (0..65535)")
      .argument("<value>", "value (0..65535, decimal or 0x hex)"),
  ).action(async (regText: string, valueText: string, o: unknown) => {
    const opts = o as CommonOpts & { json?: boolean };
    const register = parseU16("register", regText);
    const value = parseU16("value", valueText);
    const echo = await withTransport(opts, (t) => t.writeHold(register, value));
    const R = await import("../lxp/registers.ts");
    const [entry] = describeRegisters(R, "hold", register, [echo]);
    print(opts, `hold ${register} ${entry.name ? `(${entry.name}) ` : ""}:= ${value}: OK, echo ${echo}`, {
      ok: true,
      register,
      value,
      echo,
      key: entry.key,
      name: entry.name,
    });
  });

  // set <command> <value>
  addCommon(
    program
      .command("set")
      .description(
        "run a named command: ac_charge, forced_discharge, charge_priority (1 t true y yes on = on, anything else off), " +
          "charge_pct, discharge_pct, charge_amount_pct (0–100)",
      )
      .argument("<command>", "command name")
      .argument(
        "<value>",
        "boolean (1 t true y yes on, case-insensitive, are true; anything else false) or an integer 0–100",
      ),
  ).action(async (name: string, valueText: string, o: unknown) => {
    const opts = o as CommonOpts & { json?: boolean };
    const { NAMED_COMMANDS, planCommand } = await import("../lxp/commands.ts");
    if (!NAMED_COMMANDS.includes(name)) {
      throw new CliError(ExitCode.usage, `unknown command "${name}" (known: ${NAMED_COMMANDS.join(", ")})`);
    }
    const planned = planCommand(name, valueText);
    if (!planned.ok) {
      const msg = planned.error.includes(name) ? planned.error : `${name}: ${planned.error}`;
      throw new CliError(ExitCode.usage, msg);
    }
    const plan = planned.plan;
    if (plan.kind !== "setBit" && plan.kind !== "write") {
      throw new CliError(ExitCode.usage, `${name} is not a set command`);
    }
    const result = await withTransport(
      opts,
      (t) =>
        plan.kind === "setBit"
          ? t.updateBit(plan.register, plan.bit, plan.on)
          : t.writeHold(plan.register, plan.value),
    );
    const doc = plan.kind === "setBit"
      ? {
        ok: true,
        command: name,
        value: valueText,
        register: plan.register,
        bit: plan.bit,
        on: plan.on,
        result,
      }
      : { ok: true, command: name, value: valueText, register: plan.register, written: plan.value, result };
    const human = plan.kind === "setBit"
      ? `${name} ${
        plan.on ? "on" : "off"
      }: OK (hold ${plan.register} bit ${plan.bit}, register now ${result})`
      : `${name} = ${plan.value}: OK (hold ${plan.register}, echo ${result})`;
    print(opts, human, doc);
  });

  // lxp decode <hex...>
  const lxp = subgroup(program, "lxp", "LuxPower protocol tools");
  lxp
    .command("decode")
    .description("decode captured LXP frame(s) given as hex (spaces and colons allowed)")
    .argument("<hex...>", "frame bytes in hex")
    .option("--json", "print one JSON document on stdout")
    .action(async (parts: string[], opts: { json?: boolean }) => {
      const F = await import("../lxp/frame.ts");
      const R = await import("../lxp/registers.ts");
      const hex = parts.join("");
      let bytes: Uint8Array;
      try {
        bytes = F.fromHex(hex);
      } catch (e) {
        throw new CliError(ExitCode.usage, `not valid hex: "${hex}" (${(e as Error).message})`);
      }
      if (bytes.length === 0) throw new CliError(ExitCode.usage, "no bytes to decode");
      let packets: Packet[];
      const one = F.decodeFrame(bytes);
      if (one.ok) packets = [one.packet];
      else {
        const sp = new F.FrameSplitter();
        packets = sp.push(bytes);
        if (packets.length === 0 || sp.droppedBytes > 0 || sp.buffered > 0) {
          throw new CliError(ExitCode.usage, `cannot decode frame: ${one.error}`);
        }
      }
      const { decodeInputReply } = await import("../lxp/inputs.ts");
      const docs = packets.map((p) => describePacket(p, R, decodeInputReply));
      const human = docs.map((d) => d.human).join("\n\n");
      const json = docs.length === 1 ? { bytes: bytes.length, ...docs[0].json } : {
        bytes: bytes.length,
        frames: docs.map((d) => d.json),
      };
      print(opts, human, json);
    });

  // sim inverter
  const sim = subgroup(program, "sim", "simulators for development and tests");
  sim
    .command("inverter")
    .description("run a simulated LuxPower dongle + inverter (TCP server) until SIGINT/SIGTERM")
    .option("--host <host>", "listen address", "127.0.0.1")
    .option("--port <port>", "TCP port (0 = pick a free one and print it)", "8000")
    .option("--datalog <serial>", "dongle serial (10 characters)", "BA12345678")
    .option("--serial <serial>", "inverter serial (10 characters)", "0123456789")
    .option("--interval <seconds>", "input broadcast interval (0 = none)", "120")
    .option("--heartbeat <seconds>", "heartbeat interval (0 = none)", "60")
    .option(
      "--firmware <old|new>",
      "old: three 40-register broadcasts; new: one protocol-5 0–126 frame",
      "old",
    )
    .option("--drop-every <seconds>", "fault: close every connection every N seconds")
    .option("--drop-probability <p>", "fault: probability of closing the connection instead of answering")
    .option("--chunk", "fault: split outgoing frames into random chunks")
    .option("--garbage <p>", "fault: probability of garbage bytes before a frame")
    .option("--bad-crc <p>", "fault: probability of a bad-CRC copy before a frame")
    .option("--delay <ms>", "fault: delay every reply by N ms")
    .option(
      "--exception-registers <list>",
      "fault: answer requests touching these registers (e.g. 21,64) with an exception",
    )
    .option("--exception-code <n>", "exception code for --exception-registers (default 4)")
    .option("--silent", "fault: accept connections but never send anything")
    .option("--corrupt-echo", "fault: write-single echoes carry a wrong value")
    .option("--seed <n>", "random seed for fault injection")
    .option("--json", "print the listening line as JSON")
    .action(async (o) => {
      const firmware = o.firmware;
      if (firmware !== "old" && firmware !== "new") {
        throw new CliError(ExitCode.usage, `--firmware must be old or new, got "${firmware}"`);
      }
      const int = (flag: string, t: string, max = 0xffffffff) => {
        const n = /^\d+$/.test(t.trim()) ? Number(t) : NaN;
        if (!Number.isInteger(n) || n < 0 || n > max) {
          throw new CliError(ExitCode.usage, `${flag} must be an integer 0..${max}, got "${t}"`);
        }
        return n;
      };
      const excRegs = o.exceptionRegisters === undefined
        ? undefined
        : o.exceptionRegisters.split(",").map((s) => int("--exception-registers", s, 0xffff));
      const { InverterSimulator } = await import("../sim/inverter.ts");
      let simulator;
      try {
        simulator = new InverterSimulator({
          host: o.host,
          port: parsePort(o.port),
          datalog: parseSerial("--datalog", o.datalog),
          serial: parseSerial("--serial", o.serial),
          interval: parseSeconds("--interval", o.interval, true),
          heartbeatInterval: parseSeconds("--heartbeat", o.heartbeat, true),
          firmware,
          seed: o.seed === undefined ? undefined : int("--seed", o.seed),
          faults: {
            dropEveryMs: o.dropEvery === undefined
              ? undefined
              : parseSeconds("--drop-every", o.dropEvery) * 1000,
            dropProbability: o.dropProbability === undefined
              ? undefined
              : parseProbability("--drop-probability", o.dropProbability),
            chunk: o.chunk === true,
            garbageProbability: o.garbage === undefined
              ? undefined
              : parseProbability("--garbage", o.garbage),
            badCrcProbability: o.badCrc === undefined ? undefined : parseProbability("--bad-crc", o.badCrc),
            delayMs: o.delay === undefined ? undefined : int("--delay", o.delay),
            exceptionRegisters: excRegs,
            exceptionCode: o.exceptionCode === undefined
              ? undefined
              : int("--exception-code", o.exceptionCode, 255),
            silent: o.silent === true,
            corruptEcho: o.corruptEcho === true,
          },
        }, ctx.logger());
      } catch (e) {
        throw e instanceof RangeError ? new CliError(ExitCode.usage, e.message) : e;
      }
      let port: number;
      try {
        port = (await simulator.start()).port;
      } catch (e) {
        throw new CliError(
          ExitCode.unexpected,
          `cannot listen on ${o.host}:${o.port}: ${(e as Error).message}`,
        );
      }
      print(o, `listening ${o.host}:${port}`, {
        listening: `${o.host}:${port}`,
        host: o.host,
        port,
        datalog: simulator.datalog,
        serial: simulator.serial,
        firmware,
      });
      await new Promise<void>((resolve) => {
        if (ctx.signal.aborted) resolve();
        else ctx.signal.addEventListener("abort", () => resolve(), { once: true });
      });
      await simulator.stop();
      // A simulator stopped by SIGINT/SIGTERM has done its job: exit 0 (not 130).
      Deno.exit(ExitCode.ok);
    });
}

// ---------------------------------------------------------------------------------------------------------
// lxp decode: describe one packet

const TCP_NAMES: Record<number, string> = {
  0xc1: "heartbeat",
  0xc2: "translated data",
  0xc3: "read param",
  0xc4: "write param",
};
const FN_NAMES: Record<number, string> = {
  0x03: "read hold",
  0x04: "read input",
  0x06: "write single",
  0x10: "write multi",
};
const EXC_NAMES: Record<number, string> = {
  1: "illegal function",
  2: "illegal data address",
  3: "illegal data value",
  4: "slave device failure",
  6: "slave busy",
};

function hexOf(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

export function describePacket(
  p: Packet,
  R: Registers,
  decodeInputReply: (start: number, values: number[]) => { block: number; json: Record<string, number> }[],
): { human: string; json: Record<string, unknown> } {
  const tcp = p.kind === "heartbeat"
    ? 0xc1
    : p.kind === "translated"
    ? 0xc2
    : p.kind === "readParam"
    ? 0xc3
    : 0xc4;
  const head = `${TCP_NAMES[tcp]} (0x${tcp.toString(16)}), protocol ${p.protocol}, datalog ${p.datalog}`;
  const json: Record<string, unknown> = {
    kind: p.kind,
    tcpFunction: tcp,
    protocol: p.protocol,
    datalog: p.datalog,
  };
  const lines = [head];
  if (p.kind === "heartbeat") {
    json.trailer = p.trailer;
    lines.push(`trailer ${p.trailer}`);
  } else if (p.kind === "readParam" || p.kind === "writeParam") {
    json.param = p.param;
    let line = `param ${p.param}`;
    if (p.value !== undefined) {
      json.value = hexOf(p.value);
      const num = p.value.length === 2 ? p.value[0] | (p.value[1] << 8) : undefined;
      if (num !== undefined) json.valueNumber = num;
      line += `, value ${hexOf(p.value)}${num !== undefined ? ` (${num})` : ""}`;
    }
    if (p.kind === "writeParam" && p.result !== undefined) {
      json.result = p.result;
      line += `, result ${p.result}`;
    }
    lines.push(line);
  } else {
    const base = p.fn & 0x7f;
    const exc = (p.fn & 0x80) !== 0;
    const isReply = exc || p.address !== 0;
    Object.assign(json, {
      address: p.address,
      direction: isReply ? "reply" : "request",
      fn: p.fn,
      function: FN_NAMES[base] ?? `0x${base.toString(16)}`,
      serial: p.serial,
      register: p.register,
    });
    lines.push(
      `${isReply ? "reply" : "request"} (address ${p.address}), function 0x${
        p.fn.toString(16).padStart(2, "0")
      } ${FN_NAMES[base] ?? "unknown"}${
        exc ? " EXCEPTION" : ""
      }, inverter ${p.serial}, register ${p.register}`,
    );
    const bank: "input" | "hold" = base === 0x04 ? "input" : "hold";
    if (exc) {
      json.exceptionCode = p.exceptionCode;
      json.exception = EXC_NAMES[p.exceptionCode ?? -1] ?? "unknown";
      lines.push(`exception code ${p.exceptionCode} (${json.exception})`);
    } else if (p.values !== undefined) {
      json.count = p.values.length;
      json.values = p.values;
      if (p.byteCountPresent !== undefined) json.byteCountPresent = p.byteCountPresent;
      lines.push(`${p.values.length} register(s)${p.byteCountPresent === false ? ", no byte count" : ""}`);
      const entries = describeRegisters(R, bank, p.register, p.values);
      json.registers = entries;
      lines.push(formatEntries(bank, entries));
      if (base === 0x04) {
        const blocks = decodeInputReply(p.register, p.values);
        if (blocks.length) json.inputs = Object.fromEntries(blocks.map((b) => [String(b.block), b.json]));
      }
    } else if (p.value !== undefined) {
      json.value = p.value;
      const entries = describeRegisters(R, "hold", p.register, [p.value]);
      json.registers = entries;
      lines.push(`value ${p.value}`);
      lines.push(formatEntries("hold", entries));
    } else if (p.count !== undefined) {
      json.count = p.count;
      lines.push(`count ${p.count}`);
    }
  }
  return { human: lines.join("\n"), json };
}
