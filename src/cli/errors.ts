// One exit-code table, used by every command (design.md "Exit codes"), and the one place where the
// error kinds of the layers below (LxpError, MqttError, VenusError, ConfigError, TuiError) become exit codes.

import { LxpError } from "../lxp/errors.ts";
import { MqttError } from "../mqtt/errors.ts";
import { VenusError } from "../venus/errors.ts";
import { ConfigError } from "../config_error.ts";
import { TuiError } from "../tui/errors.ts";

export const ExitCode = {
  ok: 0,
  unexpected: 1,
  usage: 2,
  config: 3,
  deviceUnreachable: 4,
  brokerUnreachable: 5,
  deviceFailure: 6,
  interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** An error raised by the CLI itself that carries the exit code it should end the process with. */
export class CliError extends Error {
  constructor(public readonly code: ExitCode, message: string) {
    super(message);
    this.name = "CliError";
  }
}

/**
 * The exit code for an error of any layer, or undefined for an unexpected one (a bug: exit 1 with its
 * stack). RangeError is what the pure parsers throw for a bad argument.
 */
export function exitCodeFor(err: unknown): ExitCode | undefined {
  if (err instanceof CliError) return err.code;
  if (err instanceof ConfigError) return ExitCode.config;
  if (err instanceof LxpError) {
    return err.kind === "exception" || err.kind === "mismatch"
      ? ExitCode.deviceFailure
      : ExitCode.deviceUnreachable;
  }
  if (err instanceof MqttError) return err.kind === "config" ? ExitCode.config : ExitCode.brokerUnreachable;
  if (err instanceof VenusError) return err.kind === "config" ? ExitCode.config : ExitCode.deviceUnreachable;
  if (err instanceof TuiError) return ExitCode.usage;
  if (err instanceof RangeError) return ExitCode.usage;
  return undefined;
}
