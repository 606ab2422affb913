// Carries out the effects of a key (ui.ts) against a source and reports the outcome as a status line.
// The register values that come back are folded into the store at once (the bridge echoes arrive too).

import { HOLD_REGISTERS } from "../lxp/registers.ts";
import type { TuiSource } from "./source.ts";
import type { Store } from "./store.ts";
import type { Effect } from "./ui.ts";
import { decodedHold } from "./view.ts";

export interface Outcome {
  text: string;
  ok?: boolean;
}

/** Runs one effect (quit/interrupt are the caller's); `progress` shows intermediate status lines. */
export type EffectRunner = (effect: Effect, progress: (o: Outcome) => void) => Promise<Outcome>;

const LAST_HOLD = Math.max(...HOLD_REGISTERS.map((d) => d.register));
const BLOCK = 40;

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function effectRunner(source: TuiSource, store: Store): EffectRunner {
  const registers = () => {
    if (!source.registers) {
      throw new Error("no inverter: configure [lxp] (or run serve with [lxp] for --via mqtt)");
    }
    return source.registers;
  };
  return async (effect, progress) => {
    try {
      switch (effect.kind) {
        case "readInputs":
          await source.requestInputs();
          return { text: "OK: input blocks 1–3 read", ok: true };
        case "readHolds": {
          const total = Math.ceil((LAST_HOLD + 1) / BLOCK);
          for (let i = 0; i < total; i++) {
            const from = i * BLOCK, count = Math.min(BLOCK, LAST_HOLD + 1 - from);
            const bar = "█".repeat(i) + "░".repeat(total - i);
            progress({ text: `reading ${from}–${from + count - 1} (${i + 1}/${total}) ${bar}` });
            const values = await registers().readHold(from, count);
            store.apply({ kind: "hold", register: from, values });
          }
          return { text: `OK: registers 0–${LAST_HOLD} read`, ok: true };
        }
        case "writeHold": {
          const echo = await registers().writeHold(effect.register, effect.value);
          store.apply({ kind: "hold", register: effect.register, values: [echo] });
          return {
            text: `OK: ${effect.register} ${effect.label} = ${decodedHold(effect.register, echo)}`,
            ok: true,
          };
        }
        case "setBit": {
          const raw = await registers().updateBit(effect.register, effect.bit, effect.on);
          store.apply({ kind: "hold", register: effect.register, values: [raw] });
          return {
            text: `OK: ${effect.label} ${effect.on ? "on" : "off"}; ${effect.register} = ${
              decodedHold(effect.register, raw)
            }`,
            ok: true,
          };
        }
        case "dbusWrite":
          await source.dbusWrite(effect.service, effect.path, effect.json);
          return {
            text: `OK: wrote ${JSON.stringify(effect.json)} to ${effect.service}${effect.path}`,
            ok: true,
          };
        case "dbusRead":
          await source.dbusRead(effect.service, effect.path);
          return { text: `OK: asked for ${effect.service}${effect.path}`, ok: true };
        default:
          return { text: "" };
      }
    } catch (err) {
      return { text: `FAIL: ${message(err)}`, ok: false };
    }
  };
}
