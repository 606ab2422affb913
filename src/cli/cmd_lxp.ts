// LuxPower one-shot commands: read-input, read-hold, write-hold, set, lxp decode.
//
// Register operations go through a RegisterTransport (src/lxp/transport.ts): `--via lxp` talks to the
// dongle directly, `--via mqtt` to a running bridge through the broker. Output (human and --json) and
// exit codes are the same whichever path answered. The links (node:net, mqtt.js) are imported inside the
// actions, so `--help` and other commands do not pay for them.

import type { Command } from "@commander-js/extra-typings";
import type { CliContext, ProgramWithGlobals } from "./context.ts";
import { CliError, ExitCode } from "./errors.ts";
import { parseChoice, parseInteger, parseU16 } from "./args.ts";
import type { RegisterTransport } from "../lxp/transport.ts";
import { addCommon, type CommonOpts, examples, withTransport as withOneShotTransport } from "./one_shot.ts";
// The command table is small and pure; `set --help` lists it.
import {
  COMMANDS,
  FALSE_WORDS,
  findCommand,
  NAMED_COMMANDS,
  parseBooleanStrict,
  parseUint,
  TRUE_WORDS,
} from "../lxp/commands.ts";

export function registerLxpCommands(program: ProgramWithGlobals, ctx: CliContext): void {
  const withTransport = <T>(opts: CommonOpts, fn: (t: RegisterTransport) => Promise<T>) =>
    withOneShotTransport(ctx, opts, fn);

  addCommon(
    program
      .command("read-input")
      .description(
        "read an input block as its octolux JSON: 1 (registers 0–39), 2 (40–79), 3 (80–119), 4 (120–159) or all",
      )
      .argument("<block>", "1, 2, 3, 4 or all")
      .addHelpText("after", examples("ess2mqtt read-input 1 --json", "ess2mqtt read-input all --via mqtt")),
  ).action(async (blockText: string, o: unknown) => {
    const opts = o as CommonOpts;
    const choice = parseChoice("input block", blockText, ["1", "2", "3", "4", "all"]);
    const blocks = choice === "all" ? [1, 2, 3, 4] as const : [Number(choice) as 1 | 2 | 3 | 4];
    const inputs = await withTransport(opts, async (t) => {
      const out: Record<string, number> = {};
      for (const n of blocks) Object.assign(out, await t.readInputBlock(n));
      return out;
    });
    const { formatInputs } = await import("../lxp/describe.ts");
    ctx.print(formatInputs(inputs), {
      bank: "input",
      block: choice === "all" ? "all" : Number(choice),
      inputs,
    });
  });

  addCommon(
    program
      .command("read-hold")
      .description("read holding registers")
      .argument("<register>", "first register (0–65535)")
      .option("--count <n>", "number of registers (1–127)", "1")
      .addHelpText("after", examples("ess2mqtt read-hold 21", "ess2mqtt read-hold 0 --count 40 --json")),
  ).action(async (regText: string, o: unknown) => {
    const opts = o as CommonOpts & { count: string };
    const register = parseU16("register", regText);
    const count = parseInteger("--count", opts.count, 1, 127);
    const values = await withTransport(opts, (t) => t.readHold(register, count));
    const { describeRegisters, formatEntries } = await import("../lxp/describe.ts");
    const entries = describeRegisters("hold", register, values);
    ctx.print(formatEntries("hold", entries), { bank: "hold", register, count, values, registers: entries });
  });

  addCommon(
    program
      .command("write-hold")
      .description("write one holding register and verify the echoed value")
      .argument("<register>", "register (0–65535)")
      .argument("<value>", "value (0–65535, decimal or 0x hex)")
      .addHelpText(
        "after",
        examples("ess2mqtt write-hold 65 50", "ess2mqtt write-hold 21 0xF354 --via mqtt"),
      ),
  ).action(async (regText: string, valueText: string, o: unknown) => {
    const opts = o as CommonOpts;
    const register = parseU16("register", regText);
    const value = parseU16("value", valueText);
    const echo = await withTransport(opts, (t) => t.writeHold(register, value));
    const { describeRegisters } = await import("../lxp/describe.ts");
    const [entry] = describeRegisters("hold", register, [echo]);
    ctx.print(`hold ${register} ${entry.name ? `(${entry.name}) ` : ""}:= ${value}: OK, echo ${echo}`, {
      ok: true,
      register,
      value,
      echo,
      key: entry.key,
      name: entry.name,
    });
  });

  // The named commands come from the one command table; the help lists them without loading it.
  addCommon(
    program
      .command("set")
      .description(
        "run a named command: ac_charge, forced_discharge, charge_priority (on/off) or " +
          "charge_pct, discharge_pct, charge_amount_pct (0–100); `ess2mqtt set --help` lists them",
      )
      .argument("<command>", "command name")
      .argument(
        "<value>",
        "on off true false 1 0 yes no y n t f (any case), or an integer in the command's range",
      )
      .addHelpText(
        "after",
        "\nCommands:\n" + commandHelp() +
          examples("ess2mqtt set discharge_pct 0", "ess2mqtt set ac_charge on --json"),
      ),
  ).action(async (name: string, valueText: string, o: unknown) => {
    const opts = o as CommonOpts;
    const command = findCommand(name);
    if (!command) {
      throw new CliError(ExitCode.usage, `unknown command "${name}" (known: ${NAMED_COMMANDS.join(", ")})`);
    }
    const v = command.value;
    if (v.kind === "bool") {
      const on = parseBooleanStrict(valueText);
      if (on === undefined) {
        throw new CliError(
          ExitCode.usage,
          `${name} takes one of ${[...TRUE_WORDS, ...FALSE_WORDS].join(" ")} (got "${valueText}")`,
        );
      }
      const result = await withTransport(opts, (t) => t.updateBit(command.register, v.bit, on));
      ctx.print(
        `${name} ${on ? "on" : "off"}: OK (hold ${command.register} bit ${v.bit}, register now ${result})`,
        { ok: true, command: name, value: on, register: command.register, bit: v.bit, result },
      );
      return;
    }
    const value = parseUint(valueText, v.min, v.max);
    if (value === undefined) {
      throw new CliError(ExitCode.usage, `${name} takes an integer ${v.min}–${v.max} (got "${valueText}")`);
    }
    const result = await withTransport(opts, (t) => t.writeHold(command.register, value));
    ctx.print(`${name} = ${value}: OK (hold ${command.register}, echo ${result})`, {
      ok: true,
      command: name,
      value,
      register: command.register,
      result,
    });
  });

  const lxp: Command<any, any, any> = program.commands.find((c) => c.name() === "lxp") ??
    program.command("lxp").description("LuxPower protocol tools");
  lxp
    .command("decode")
    .description("decode captured LXP frame(s) given as hex (spaces and colons allowed), or a capture file")
    .argument("[hex...]", "frame bytes in hex")
    .option("--file <capture>", "decode every frame of a capture file (`ess2mqtt lxp capture`)")
    .addHelpText(
      "after",
      examples("ess2mqtt lxp decode a1 1a 02 00 0d 00 01 c1 42 41 31 32 33 34 35 36 37 38 00"),
    )
    .action(async (parts: string[], o: { file?: string }) => {
      if (o.file !== undefined) {
        if (parts.length) throw new CliError(ExitCode.usage, "give hex or --file, not both");
        const { decodeCaptureFile } = await import("./cmd_capture.ts");
        return decodeCaptureFile(ctx, o.file);
      }
      const F = await import("../lxp/frame.ts");
      const { describePacket } = await import("../lxp/describe.ts");
      const hex = parts.join("");
      let bytes: Uint8Array;
      try {
        bytes = F.fromHex(hex);
      } catch (e) {
        throw new CliError(ExitCode.usage, `not valid hex: ${(e as Error).message} (got "${hex}")`);
      }
      if (bytes.length === 0) throw new CliError(ExitCode.usage, "no bytes to decode");
      let packets: import("../lxp/frame.ts").Packet[];
      const one = F.decodeFrame(bytes);
      if (one.ok) packets = [one.packet];
      else {
        const sp = new F.FrameSplitter();
        packets = sp.push(bytes);
        if (packets.length === 0 || sp.droppedBytes > 0 || sp.buffered > 0) {
          throw new CliError(ExitCode.usage, `cannot decode frame: ${one.error}`);
        }
      }
      const docs = packets.map((p) => describePacket(p));
      const human = docs.map((d) => d.human).join("\n\n");
      const json = docs.length === 1
        ? { bytes: bytes.length, ...docs[0].json }
        : { bytes: bytes.length, frames: docs.map((d) => d.json) };
      ctx.print(human, json);
    });
}

function commandHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return COMMANDS.map((c) => {
    const what = c.value.kind === "bool"
      ? `on/off: hold ${c.register} bit ${c.value.bit}`
      : `${c.value.min}–${c.value.max}: hold ${c.register}`;
    return `  ${c.name.padEnd(width)}  ${c.label} (${what})`;
  }).join("\n");
}
