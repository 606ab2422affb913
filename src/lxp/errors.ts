// Errors of the LXP link. The CLI maps each kind to an exit code (src/cli/errors.ts).

/**
 * unreachable/timeout/disconnected: the dongle did not answer (exit 4); exception/mismatch: the inverter
 * answered with a failure (exit 6).
 */
export type LxpErrorKind = "unreachable" | "timeout" | "disconnected" | "exception" | "mismatch";

export class LxpError extends Error {
  constructor(public readonly kind: LxpErrorKind, message: string, public readonly exceptionCode?: number) {
    super(message);
    this.name = "LxpError";
  }
}
