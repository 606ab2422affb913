// Errors of the dashboard. The CLI maps them to exit codes (src/cli/errors.ts).

/** no-terminal: stdin or stdout is not a TTY; nothing-to-show: neither a broker nor a device is configured. */
export type TuiErrorKind = "no-terminal" | "nothing-to-show";

export class TuiError extends Error {
  constructor(public readonly kind: TuiErrorKind, message: string) {
    super(message);
    this.name = "TuiError";
  }
}
