// Simulators: `sim inverter` (a LuxPower dongle + inverter on TCP, with fault injection).

import type { Command } from "@commander-js/extra-typings";
import type { CliContext, ProgramWithGlobals } from "./context.ts";
import { CliError, ExitCode } from "./errors.ts";
import { parseChoice, parseInteger, parsePort, parseProbability, parseSeconds, parseSerial } from "./args.ts";
import { waitForAbort } from "../app.ts";

/** The `sim` command group (created once; cmd_venus adds `sim venus`). */
function simGroup(program: ProgramWithGlobals): Command<any, any, any> {
  return program.commands.find((c) => c.name() === "sim") ??
    program.command("sim").description("simulators for development and tests");
}

export function registerSimCommands(program: ProgramWithGlobals, ctx: CliContext): void {
  const sim = simGroup(program);
  // sim inverter
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
    .addHelpText(
      "after",
      "\nExamples:\n  $ ess2mqtt sim inverter --port 0 --interval 10\n  $ ess2mqtt sim inverter --garbage 0.1 --bad-crc 0.1 --chunk --seed 7\n",
    )
    .option("--replay <capture>", "answer and broadcast from a capture (`ess2mqtt lxp capture`) instead")
    .option("--speed <factor>", "with --replay: play the captured broadcasts this many times faster", "1")
    .action(async (o) => {
      if (o.replay !== undefined) {
        const { replayFromFile } = await import("./cmd_capture.ts");
        return replayFromFile(ctx, o.replay, {
          host: o.host,
          port: parsePort("--port", o.port, true),
          speed: o.speed,
        });
      }
      const firmware = parseChoice("--firmware", o.firmware, ["old", "new"]);
      const int = (flag: string, t: string, max = 0xffffffff) => parseInteger(flag, t, 0, max);
      const excRegs = o.exceptionRegisters === undefined
        ? undefined
        : o.exceptionRegisters.split(",").map((s) => int("--exception-registers", s, 0xffff));
      const { InverterSimulator } = await import("../sim/inverter.ts");
      let simulator;
      try {
        simulator = new InverterSimulator({
          host: o.host,
          port: parsePort("--port", o.port, true),
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
      ctx.print(`listening ${o.host}:${port}`, {
        listening: `${o.host}:${port}`,
        host: o.host,
        port,
        datalog: simulator.datalog,
        serial: simulator.serial,
        firmware,
      });
      await waitForAbort(ctx.signal);
      await simulator.stop();
      // A simulator stopped by SIGINT/SIGTERM has done its job: exit 0 (not 130).
      Deno.exit(ExitCode.ok);
    });
}
