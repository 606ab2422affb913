// The commander program. Command files register themselves; heavy modules (mqtt, aedes, dbus-next, ink)
// are imported inside actions so one-shot commands start fast.

import { Command, CommanderError } from "@commander-js/extra-typings";
import { Context, type ProgramWithGlobals } from "./context.ts";
import { ExitCode, exitCodeFor } from "./errors.ts";
import { versionText } from "../version.ts";
import { registerConfigCommands } from "./cmd_config.ts";
import { registerLxpCommands } from "./cmd_lxp.ts";
import { registerSimCommands } from "./cmd_sim.ts";
import { registerVenusCommands } from "./cmd_venus.ts";
import { registerServeCommands } from "./cmd_serve.ts";
import { registerSlotCommands } from "./cmd_slot.ts";
import { registerCaptureCommands } from "./cmd_capture.ts";
import { registerTimeCommands } from "./cmd_time.ts";
import { registerCompletionCommand } from "./completions.ts";

function buildProgram(): { program: ProgramWithGlobals; ctx: Context } {
  const program = new Command()
    .name("ess2mqtt")
    .description("Bridge home energy-storage systems (LuxPower inverters, Victron Venus) to MQTT.")
    .version(versionText(), "-V, --version", "print the version, git commit and Deno version")
    .option("-c, --config <file>", "config file (INI)", "./config.ini")
    .option("--json", "print results (and errors) as one JSON document on stdout")
    .option("-v, --verbose", "debug logging on stderr")
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride();
  const ctx = new Context(program);
  registerServeCommands(program, ctx);
  registerLxpCommands(program, ctx);
  registerCaptureCommands(program, ctx);
  registerSlotCommands(program, ctx);
  registerTimeCommands(program, ctx);
  registerSimCommands(program, ctx);
  registerVenusCommands(program, ctx);
  registerConfigCommands(program, ctx);
  registerCompletionCommand(program, ctx);
  // Every subcommand: errors go through our exit-code table.
  for (const sub of program.commands) propagate(sub);
  return { program, ctx };
}

function propagate(cmd: Command<any, any, any>) {
  cmd.exitOverride();
  cmd.showHelpAfterError("(run with --help for usage)");
  for (const sub of cmd.commands) propagate(sub);
}

const encoder = new TextEncoder();

function write(stream: { writeSync(b: Uint8Array): number }, text: string) {
  try {
    const bytes = encoder.encode(text.endsWith("\n") ? text : text + "\n");
    let off = 0;
    while (off < bytes.length) off += stream.writeSync(bytes.subarray(off));
  } catch { /* closed */ }
}

/** Runs the CLI; returns the process exit code. */
export async function runCli(args: string[]): Promise<number> {
  const { program, ctx } = buildProgram();
  // Known before parsing, so a usage error is reported as JSON too.
  const json = args.includes("--json");
  let usageMessage = "";
  program.configureOutput({
    writeOut: (s) => write(Deno.stdout, s.trimEnd()),
    writeErr: (s) => {
      if (!usageMessage && s.startsWith("error:")) usageMessage = s.trim().replace(/^error: /, "");
      write(Deno.stderr, s.trimEnd());
    },
  });
  const fail = (code: ExitCode, message: string): number => {
    if (json) write(Deno.stdout, JSON.stringify({ error: { code, message } }));
    return code;
  };
  try {
    await program.parseAsync(args, { from: "user" });
    if (ctx.interruptedBy === "SIGINT") return ExitCode.interrupted;
    return ExitCode.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (
        err.code === "commander.helpDisplayed" || err.code === "commander.version" ||
        err.code === "commander.help"
      ) {
        return ExitCode.ok;
      }
      return fail(ExitCode.usage, usageMessage || err.message);
    }
    const code = exitCodeFor(err);
    if (code !== undefined) {
      write(Deno.stderr, `ess2mqtt: ${(err as Error).message}`);
      return fail(code, (err as Error).message);
    }
    if (ctx.signal.aborted) return fail(ExitCode.interrupted, "interrupted");
    write(Deno.stderr, `ess2mqtt: unexpected error: ${(err as Error)?.stack ?? err}`);
    return fail(ExitCode.unexpected, `unexpected error: ${(err as Error)?.message ?? err}`);
  }
}
