// Errors of the MQTT layer. The CLI maps each kind to an exit code (src/cli/errors.ts).

/** config: a [mqtt] value is unusable (URI, PEM file, listen address); unreachable: no broker connection. */
export type MqttErrorKind = "config" | "unreachable";

export class MqttError extends Error {
  constructor(public readonly kind: MqttErrorKind, message: string) {
    super(message);
    this.name = "MqttError";
  }
}
