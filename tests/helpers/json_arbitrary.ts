// Generated JSON values for the JSON ⇄ D-Bus round-trip properties.

import fc from "fast-check";
import type { JsonValue } from "../../src/venus/variant.ts";

/**
 * JSON that must come back unchanged from JSON → D-Bus variant → JSON: no empty arrays (they mean
 * "invalid" and come back as null), no -0, integers within ±(2^53 − 1), finite numbers.
 */
export function roundTripJson(o: { maxItems: number; keys: fc.Arbitrary<string> }): fc.Arbitrary<JsonValue> {
  return fc.letrec<{ v: JsonValue }>((tie) => ({
    v: fc.oneof(
      { depthSize: "small" },
      fc.constant(null),
      fc.boolean(),
      fc.integer({ min: -(2 ** 53) + 1, max: 2 ** 53 - 1 }),
      fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Object.is(d, -0)),
      fc.string(),
      fc.array(tie("v"), { minLength: 1, maxLength: o.maxItems }),
      fc.dictionary(o.keys, tie("v"), { maxKeys: o.maxItems }),
    ),
  })).v;
}
