// Simulators: `sim inverter` (a LuxPower dongle + inverter on TCP, with fault injection) and `sim venus`
// (com.victronenergy.* services on a D-Bus). The simulators are imported inside the actions.

import type { Command } from "@commander-js/extra-typings";
import type { CliContext, ProgramWithGlobals } from "./context.ts";
import { CliError, ExitCode } from "./errors.ts";
import { parseChoice, parseInteger, parsePort, parseProbability, parseSeconds, parseSerial } from "./args.ts";
import { waitForAbort } from "../app.ts";

/** The `sim` command group. */
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

  // ---------------------------------------------------------------------------------------------
  sim
    .command("venus")
    .description(
      "run a simulated Victron GX: system, vebus (257), pvinverter (20), battery (512) and settings services on " +
        "a D-Bus, until SIGINT/SIGTERM",
    )
    .option(
      "--bus <address>",
      "D-Bus address to register on (default: start a private dbus-daemon and print its address)",
    )
    .option("--portal-id <id>", "portal id = com.victronenergy.system /Serial", "e0ff50a097c0")
    .option("--scale <n>", "extra load-test services with 200 paths each", "0")
    .option("--tick <ms>", "period of the live value changes (0 = none)", "1000")
    .option(
      "--night <seconds>",
      "pvinverter day/night cycle: off the bus for a quarter of every N seconds (0 = never)",
      "120",
    )
    .option("--misbehaving", "add a service that never answers GetItems")
    .option(
      "--rate <n>",
      "drive N changes per second over the load-test paths (needs --scale), values = send time in epoch ms",
    )
    .option("--duration <seconds>", "stop the --rate driver after this long (default: until interrupted)")
    .addHelpText(
      "after",
      `
Examples:
  $ ess2mqtt sim venus                     # private dbus-daemon; prints its address for [dbus] address
  $ ess2mqtt sim venus --scale 10 --rate 2000 --duration 30 --tick 0`,
    )
    .action(async (o) => {
      const logger = ctx.logger().child({ component: "venus_sim" });
      const scale = parseInteger("--scale", o.scale, 0, 1000);
      const tickMs = parseInteger("--tick", o.tick, 0, 86_400_000);
      const nightS = parseSeconds("--night", o.night, true);
      const rate = o.rate === undefined ? 0 : parseInteger("--rate", o.rate, 0, 1_000_000);
      if (rate > 0 && scale === 0) throw new CliError(ExitCode.usage, "--rate needs --scale ≥ 1");
      if (!/^[A-Za-z0-9_-]+$/.test(o.portalId)) {
        throw new CliError(
          ExitCode.usage,
          `--portal-id must be letters, digits, _ or -, got "${o.portalId}"`,
        );
      }
      const { VenusSim } = await import("../sim/venus.ts");
      const { startDbusDaemon } = await import("../sim/dbus_daemon.ts");
      let privateBus: Awaited<ReturnType<typeof startDbusDaemon>> | undefined;
      let address = o.bus;
      if (!address) {
        try {
          privateBus = await startDbusDaemon();
        } catch (err) {
          throw new CliError(
            ExitCode.unexpected,
            `cannot start a private dbus-daemon: ${(err as Error).message}`,
          );
        }
        address = privateBus.address;
      } else {
        const { resolveBusAddress } = await import("../venus/bus.ts");
        address = resolveBusAddress(address, (k) => Deno.env.get(k));
      }
      const sim = new VenusSim({
        address,
        portalId: o.portalId,
        scale,
        tickMs,
        nightCycleMs: nightS * 1000,
        misbehaving: o.misbehaving === true,
        logger,
      });
      try {
        await sim.start();
      } catch (err) {
        await sim.stop();
        await privateBus?.stop();
        throw new CliError(
          ExitCode.deviceUnreachable,
          `cannot register on D-Bus ${address}: ${(err as Error).message}`,
        );
      }
      const printable = address.replace("\0", "@");
      const json = ctx.json;
      const text = json
        ? JSON.stringify({ address: printable, portal_id: o.portalId, services: [...sim.services.keys()] })
        : `bus ${printable}\nportal id ${o.portalId}, ${sim.services.size} services` +
          (privateBus ? `\nuse: [dbus] address = ${printable}` : "");
      Deno.stdout.writeSync(new TextEncoder().encode(text + "\n"));
      if (rate > 0) {
        const durationMs = o.duration === undefined
          ? Infinity
          : parseSeconds("--duration", o.duration, true) * 1000;
        void (async () => {
          let left = durationMs;
          while (!ctx.signal.aborted && left > 0) {
            const chunk = Math.min(left, 5000);
            const r = await sim.runRate(rate, chunk);
            logger.info("sim: changes sent", { sent: r.sent, ms: Math.round(r.elapsedMs) });
            left -= chunk;
          }
        })();
      }
      await waitForAbort(ctx.signal);
      await sim.stop();
      await privateBus?.stop();
      Deno.exit(ExitCode.ok);
    });
}
