// The commander program. Command files register themselves; heavy modules (mqtt, aedes, dbus-next, ink)
// are imported lazily inside actions so one-shot commands start fast.

import { Command, CommanderError } from "@commander-js/extra-typings";
import type { Config } from "../config.ts";
import { createStderrLogger, type Logger, type LogLevel } from "../log.ts";
import { CliError, ExitCode, exitCodeFor } from "./errors.ts";
import { VERSION } from "../version.ts";
import { registerConfigCommands } from "./cmd_config.ts";
import { registerLxpCommands } from "./cmd_lxp.ts";
import { registerVenusCommands } from "./cmd_venus.ts";
import { registerServeCommands } from "./cmd_serve.ts";

export interface CliContext {
  /** Reads and validates the config file (-c) with env overrides; throws CliError(3) listing every problem. */
  loadConfig(): Promise<Config>;
  /** The stderr logger (level from -v / [log] level). */
  logger(): Logger;
  /** --json was given. */
  readonly json: boolean;
  /** Print a result on stdout: `human` text, or `json` as one JSON document with --json. */
  print(human: string, json: unknown): void;
  /** Aborted on SIGINT/SIGTERM (long-running commands stop on it). */
  readonly signal: AbortSignal;
  /** Which signal stopped us, if any. */
  readonly interruptedBy?: "SIGINT" | "SIGTERM";
}

export type ProgramWithGlobals = Command<[], { config: string; json?: true; verbose?: true }>;

export function buildProgram(ctxFactory: (program: ProgramWithGlobals) => CliContext): ProgramWithGlobals {
  const program = new Command()
    .name("ess2mqtt")
    .description("Bridge home energy-storage systems (LuxPower inverters, Victron Venus) to MQTT.")
    .version(VERSION, "-V, --version")
    .option("-c, --config <file>", "config file (INI)", "./config.ini")
    .option("--json", "print results as one JSON document on stdout")
    .option("-v, --verbose", "debug logging on stderr")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride();
  const ctx = ctxFactory(program);
  registerServeCommands(program, ctx);
  registerLxpCommands(program, ctx);
  registerVenusCommands(program, ctx);
  registerConfigCommands(program, ctx);
  // Every subcommand: errors go through our exit-code table.
  for (const sub of program.commands) propagate(sub);
  return program;
}

function propagate(cmd: Command<any, any, any>) {
  cmd.exitOverride();
  cmd.showHelpAfterError("(run with --help for usage)");
  for (const sub of cmd.commands) propagate(sub);
}

class Context implements CliContext {
  private cachedLogger?: Logger;
  private controller = new AbortController();
  interruptedBy?: "SIGINT" | "SIGTERM";
  private configLevel?: LogLevel;

  constructor(private program: ProgramWithGlobals) {
    const onSignal = (name: "SIGINT" | "SIGTERM") => () => {
      if (this.controller.signal.aborted) return;
      this.interruptedBy = name;
      this.controller.abort();
    };
    try {
      Deno.addSignalListener("SIGINT", onSignal("SIGINT"));
      Deno.addSignalListener("SIGTERM", onSignal("SIGTERM"));
    } catch {
      // signals unsupported (e.g. some sandboxes): Ctrl+C just kills the process
    }
  }

  get signal() {
    return this.controller.signal;
  }

  get json(): boolean {
    return this.program.opts().json === true;
  }

  async loadConfig(): Promise<Config> {
    const { parseConfig, ConfigError } = await import("../config.ts");
    const path = this.program.opts().config;
    const explicit = this.program.getOptionValueSource("config") !== "default";
    let text = "";
    try {
      text = await Deno.readTextFile(path);
    } catch (err) {
      if (explicit || !(err instanceof Deno.errors.NotFound)) {
        throw new CliError(ExitCode.config, `cannot read config file "${path}": ${(err as Error).message}`);
      }
    }
    try {
      const config = parseConfig({ text, fileName: path.replace(/^\.\//, ""), env: Deno.env.toObject() });
      this.configLevel = config.log.level;
      return config;
    } catch (err) {
      if (err instanceof ConfigError) throw new CliError(ExitCode.config, err.message);
      throw err;
    }
  }

  logger(): Logger {
    if (!this.cachedLogger) {
      const level: LogLevel = this.program.opts().verbose ? "debug" : (this.configLevel ?? "info");
      this.cachedLogger = createLogger(level);
    }
    return this.cachedLogger;
  }

  print(human: string, json: unknown): void {
    const text = this.json ? JSON.stringify(json, null, 2) : human;
    if (text === "") return;
    Deno.stdout.writeSync(new TextEncoder().encode(text.endsWith("\n") ? text : text + "\n"));
  }
}

function createLogger(level: LogLevel): Logger {
  return createStderrLogger(level).logger;
}

function writeErr(text: string) {
  try {
    Deno.stderr.writeSync(new TextEncoder().encode(text.endsWith("\n") ? text : text + "\n"));
  } catch { /* closed */ }
}

/** Runs the CLI; returns the process exit code. */
export async function runCli(args: string[]): Promise<number> {
  let ctx: Context | undefined;
  const program = buildProgram((p) => (ctx = new Context(p)));
  program.configureOutput({
    writeOut: (s) => Deno.stdout.writeSync(new TextEncoder().encode(s)),
    writeErr: (s) => writeErr(s.trimEnd()),
  });
  try {
    await program.parseAsync(args, { from: "user" });
    if (ctx?.interruptedBy === "SIGINT") return ExitCode.interrupted;
    return ExitCode.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (
        err.code === "commander.helpDisplayed" || err.code === "commander.version" ||
        err.code === "commander.help"
      ) {
        return ExitCode.ok;
      }
      return ExitCode.usage;
    }
    const code = exitCodeFor(err);
    if (code !== undefined) {
      writeErr(`ess2mqtt: ${(err as Error).message}`);
      return code;
    }
    if (ctx?.signal.aborted) return ExitCode.interrupted;
    writeErr(`ess2mqtt: unexpected error: ${(err as Error)?.stack ?? err}`);
    return ExitCode.unexpected;
  }
}
