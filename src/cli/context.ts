// What every command gets: the config (loaded once, validated), the logger, output for humans or --json,
// and the abort signal of SIGINT/SIGTERM.

import type { Command } from "@commander-js/extra-typings";
import type { Config } from "../config.ts";
import { createStderrLogger, type Logger, type LogLevel } from "../log.ts";
import { CliError, ExitCode } from "./errors.ts";

export type ProgramWithGlobals = Command<[], { config: string; json?: true; verbose?: true }>;

export interface CliContext {
  /** Reads and validates the config file (-c) with env overrides; throws listing every problem (exit 3). */
  loadConfig(): Promise<Config>;
  /** The stderr logger (level from -v / [log] level). */
  logger(): Logger;
  /** --json was given. */
  readonly json: boolean;
  /** -v was given. */
  readonly verbose: boolean;
  /** Print a result on stdout: `human` text, or `json` as one JSON document with --json. */
  print(human: string, json: unknown): void;
  /** Aborted on SIGINT/SIGTERM (long-running commands stop on it). */
  readonly signal: AbortSignal;
  /** Which signal stopped us, if any. */
  readonly interruptedBy?: "SIGINT" | "SIGTERM";
  /** `work`, or a rejection with exit 130 as soon as SIGINT/SIGTERM arrives (one-shot commands). */
  interruptible<T>(work: Promise<T>): Promise<T>;
}

const encoder = new TextEncoder();

export class Context implements CliContext {
  private cachedLogger?: Logger;
  private cachedConfig?: Promise<Config>;
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

  get verbose(): boolean {
    return this.program.opts().verbose === true;
  }

  loadConfig(): Promise<Config> {
    this.cachedConfig ??= this.readConfig();
    return this.cachedConfig;
  }

  private async readConfig(): Promise<Config> {
    const { parseConfig } = await import("../config.ts");
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
    const config = parseConfig({ text, fileName: path.replace(/^\.\//, ""), env: Deno.env.toObject() });
    this.configLevel = config.log.level;
    return config;
  }

  logger(): Logger {
    if (!this.cachedLogger) {
      const level: LogLevel = this.verbose ? "debug" : (this.configLevel ?? "info");
      this.cachedLogger = createStderrLogger(level).logger;
    }
    return this.cachedLogger;
  }

  print(human: string, json: unknown): void {
    const text = this.json ? JSON.stringify(json, null, 2) : human;
    if (text === "") return;
    Deno.stdout.writeSync(encoder.encode(text.endsWith("\n") ? text : text + "\n"));
  }

  interruptible<T>(work: Promise<T>): Promise<T> {
    const signal = this.signal;
    if (signal.aborted) return Promise.reject(new CliError(ExitCode.interrupted, "interrupted"));
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(new CliError(ExitCode.interrupted, `interrupted (${this.interruptedBy})`));
      signal.addEventListener("abort", onAbort, { once: true });
      work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
    });
  }
}
