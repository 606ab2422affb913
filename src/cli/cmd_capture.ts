// Field captures: `lxp capture FILE` records every frame to and from the dongle (JSON lines with
// timestamps and hex, src/lxp/capture.ts), `lxp decode --file FILE` decodes one, and `sim inverter --replay
// FILE` (cmd_sim.ts) answers and broadcasts from one.

import type { Command } from "@commander-js/extra-typings";
import type { CliContext, ProgramWithGlobals } from "./context.ts";
import { CliError, ExitCode } from "./errors.ts";
import { parseSeconds } from "./args.ts";
import { type CommonOpts, oneShotLogger, resolveLxpTarget } from "./one_shot.ts";
import { waitForAbort } from "../app.ts";

/** Reads and parses a capture file; a usage error (exit 2) names the file and the bad line. */
async function readCaptureFile(path: string) {
  const { parseCapture } = await import("../lxp/capture.ts");
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new CliError(ExitCode.usage, `cannot read capture "${path}": ${(e as Error).message}`);
  }
  try {
    return parseCapture(text, path);
  } catch (e) {
    throw new CliError(ExitCode.usage, (e as Error).message);
  }
}

/** `lxp decode --file FILE`: every record decoded, with its time and direction. */
export async function decodeCaptureFile(ctx: CliContext, path: string): Promise<void> {
  const records = await readCaptureFile(path);
  const F = await import("../lxp/frame.ts");
  const { describePacket } = await import("../lxp/describe.ts");
  const human: string[] = [];
  const frames: Record<string, unknown>[] = [];
  for (const r of records) {
    const head = `${r.t || "-"} ${r.dir === "in" ? "<-" : "->"} ${r.bytes.length} bytes`;
    const d = r.bad
      ? undefined
      : F.decodeFrame(r.bytes, { direction: r.dir === "out" ? "request" : "reply" });
    if (d?.ok) {
      const doc = describePacket(d.packet);
      human.push(`${head}\n${doc.human}`);
      frames.push({ line: r.line, t: r.t, dir: r.dir, bytes: r.bytes.length, ...doc.json });
    } else {
      const error = d && !d.ok ? d.error : "not a frame";
      human.push(`${head}: ${error}: ${r.hex}`);
      frames.push({ line: r.line, t: r.t, dir: r.dir, bytes: r.bytes.length, error, hex: r.hex });
    }
  }
  ctx.print(human.join("\n\n"), { file: path, frames });
}

export function registerCaptureCommands(program: ProgramWithGlobals, ctx: CliContext): void {
  const lxp: Command<any, any, any> = program.commands.find((c) => c.name() === "lxp") ??
    program.command("lxp").description("LuxPower protocol tools");
  lxp
    .command("capture")
    .description(
      "record every frame to and from the dongle (JSON lines: time, direction, hex) until Ctrl-C or --duration",
    )
    .argument("<file>", "capture file to write (replaced)")
    .option("--duration <seconds>", "stop after this many seconds")
    .option("--no-read", "only listen: do not read holdings 0–239 and inputs 0–159 at the start")
    .option("--host <host>", "dongle host (overrides [lxp] host)")
    .option("--port <port>", "dongle TCP port (overrides [lxp] port; default 8000)")
    .option("--datalog <serial>", "dongle (datalog) serial, 10 characters (overrides [lxp] datalog)")
    .option("--serial <serial>", "inverter serial, 10 characters (overrides [lxp] serial)")
    .option("--timeout <seconds>", "connect and reply timeout in seconds")
    .addHelpText(
      "after",
      "\nExamples:\n  $ ess2mqtt lxp capture dongle.jsonl --duration 300\n  $ ess2mqtt sim inverter --replay dongle.jsonl --port 0\n",
    )
    .action(async (file: string, o: unknown) => {
      const opts = o as CommonOpts & { duration?: string; read: boolean };
      const durationMs = opts.duration === undefined
        ? undefined
        : parseSeconds("--duration", opts.duration) * 1000;
      const timeoutMs = opts.timeout === undefined
        ? undefined
        : Math.round(parseSeconds("--timeout", opts.timeout) * 1000);
      const target = await resolveLxpTarget(opts, ctx, timeoutMs);
      const logger = oneShotLogger(ctx.logger(), ctx.verbose);
      const { WireCutter, captureLine } = await import("../lxp/capture.ts");
      const { LxpClient } = await import("../lxp/client.ts");
      const { oneShotClientOptions } = await import("../lxp/transport.ts");
      let out: Deno.FsFile;
      try {
        out = await Deno.open(file, { write: true, create: true, truncate: true });
      } catch (e) {
        throw new CliError(ExitCode.usage, `cannot write capture "${file}": ${(e as Error).message}`);
      }
      const encoder = new TextEncoder();
      const cutters = { in: new WireCutter(), out: new WireCutter() };
      let frames = 0;
      const write = (dir: "in" | "out", pieces: { bytes: Uint8Array; bad: boolean }[]) => {
        const now = new Date();
        for (const piece of pieces) {
          out.writeSync(encoder.encode(captureLine(now, dir, piece) + "\n"));
          frames++;
        }
      };
      const client = new LxpClient(oneShotClientOptions(target), logger);
      client.onWire((dir, bytes) => write(dir, cutters[dir].push(bytes)));
      client.start(ctx.signal);
      try {
        await ctx.interruptible(client.waitConnected(target.connectTimeoutMs, true));
        logger.info("capturing", { file });
        if (opts.read) {
          // Every block is tried: a model without some range answers with an exception, which is captured too.
          const reads: [string, number, () => Promise<number[]>][] = [];
          for (let r = 0; r < 240; r += 40) reads.push(["hold", r, () => client.readHold(r, 40)]);
          for (let r = 0; r < 160; r += 40) reads.push(["input", r, () => client.readInput(r, 40)]);
          for (const [bank, register, read] of reads) {
            try {
              await ctx.interruptible(read());
            } catch (e) {
              if (e instanceof CliError || !client.connected) throw e;
              logger.warn("capture: initial read failed", { bank, register, error: (e as Error).message });
            }
          }
        }
        const stop = new AbortController();
        const timer = durationMs === undefined ? undefined : setTimeout(() => stop.abort(), durationMs);
        ctx.signal.addEventListener("abort", () => stop.abort(), { once: true });
        await waitForAbort(stop.signal);
        clearTimeout(timer);
      } catch (e) {
        if (!(e instanceof CliError && e.code === ExitCode.interrupted)) {
          await client.stop();
          out.close();
          throw e;
        }
      }
      await client.stop();
      write("in", cutters.in.flush());
      out.close();
      ctx.print(`captured ${frames} frames to ${file}`, { file, frames });
      // A capture ended by Ctrl-C has done its job: exit 0.
      if (ctx.signal.aborted) Deno.exit(ExitCode.ok);
    });
}

/** `sim inverter --replay FILE`: runs until SIGINT/SIGTERM, then exits 0. */
export async function replayFromFile(
  ctx: CliContext,
  path: string,
  o: { host: string; port: number; speed: string },
): Promise<void> {
  const speed = parseSeconds("--speed", o.speed);
  const records = await readCaptureFile(path);
  const { planReplay, ReplayInverter } = await import("../sim/replay.ts");
  let plan;
  try {
    plan = planReplay(records);
  } catch (e) {
    throw new CliError(ExitCode.usage, `${path}: ${(e as Error).message}`);
  }
  const replay = new ReplayInverter(plan, { host: o.host, port: o.port, speed }, ctx.logger());
  let port: number;
  try {
    port = (await replay.start()).port;
  } catch (e) {
    throw new CliError(ExitCode.unexpected, `cannot listen on ${o.host}:${o.port}: ${(e as Error).message}`);
  }
  ctx.print(`listening ${o.host}:${port} (replaying ${path})`, {
    listening: `${o.host}:${port}`,
    host: o.host,
    port,
    datalog: plan.datalog,
    serial: plan.serial,
    firmware: plan.firmware,
    replay: path,
    frames: plan.frames,
  });
  await waitForAbort(ctx.signal);
  await replay.stop();
  Deno.exit(ExitCode.ok);
}
