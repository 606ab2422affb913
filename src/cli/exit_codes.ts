// One exit-code table, used by every command (design.md "Exit codes").

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

/** An error that carries the exit code it should end the process with. */
export class CliError extends Error {
  constructor(public readonly code: ExitCode, message: string) {
    super(message);
    this.name = "CliError";
  }
}

export const usageError = (message: string) => new CliError(ExitCode.usage, message);
