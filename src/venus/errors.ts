// Errors of the D-Bus layer. The CLI maps each kind to an exit code (src/cli/errors.ts).

/** config: a [dbus] value is unusable (address); unreachable: the bus can't be connected to. */
export type VenusErrorKind = "config" | "unreachable";

export class VenusError extends Error {
  constructor(public readonly kind: VenusErrorKind, message: string) {
    super(message);
    this.name = "VenusError";
  }
}

/** The message of any thrown value. */
export function errText(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
