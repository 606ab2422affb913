// `ess2mqtt slot get|set <kind> <n> [HH:MM-HH:MM]`: the inverter's time-of-use windows (spec §4), over the
// same RegisterTransport as the register commands (`--via lxp` direct, `--via mqtt` through a running
// bridge's `cmd/<kind>_slot/<n>`), with the same output either way.

import type { CliContext, ProgramWithGlobals } from "./context.ts";
import { CliError, ExitCode } from "./errors.ts";
import { addCommon, type CommonOpts, withTransport as withOneShotTransport } from "./one_shot.ts";
import type { RegisterTransport } from "../lxp/transport.ts";
import {
  findSlotKind,
  formatSlot,
  formatSlotTime,
  parseSlot,
  parseSlotNumber,
  type Slot,
  SLOT_KINDS,
  slotFromRegisters,
  type SlotKind,
  slotRegisters,
} from "../lxp/slots.ts";

const KIND_NAMES = SLOT_KINDS.map((k) => k.name);

function parseKind(text: string): SlotKind {
  const kind = findSlotKind(text.trim());
  if (!kind) {
    throw new CliError(ExitCode.usage, `slot kind must be one of ${KIND_NAMES.join(", ")} (got "${text}")`);
  }
  return kind;
}

function parseN(text: string): number {
  const n = parseSlotNumber(text.trim());
  if (n === undefined) throw new CliError(ExitCode.usage, `slot number must be 1, 2 or 3 (got "${text}")`);
  return n;
}

/** The one JSON shape of a slot, for get and set alike. */
function slotDoc(kind: SlotKind, n: number, startRaw: number, endRaw: number) {
  const slot: Slot = slotFromRegisters(startRaw, endRaw);
  const regs = slotRegisters(kind, n);
  return {
    kind: kind.name,
    n,
    slot: formatSlot(slot),
    start: formatSlotTime(slot.start),
    end: formatSlotTime(slot.end),
    registers: { [regs.start]: startRaw, [regs.end]: endRaw },
  };
}

function human(doc: ReturnType<typeof slotDoc>, label: string): string {
  const regs = Object.entries(doc.registers).map(([r, v]) => `hold ${r} = ${v}`).join(", ");
  return `${label} slot ${doc.n}: ${doc.slot} (${regs})`;
}

export function registerSlotCommands(program: ProgramWithGlobals, ctx: CliContext): void {
  const withTransport = <T>(opts: CommonOpts, fn: (t: RegisterTransport) => Promise<T>) =>
    withOneShotTransport(ctx, opts, fn);

  const slot = program
    .command("slot")
    .description(
      `time-of-use slots (three per kind: ${KIND_NAMES.join(", ")}), as HH:MM-HH:MM (00:00-00:00 = off)`,
    );

  addCommon(
    slot
      .command("get")
      .description("read one slot (its two holding registers)")
      .argument("<kind>", KIND_NAMES.join(" | "))
      .argument("<n>", "1, 2 or 3")
      .addHelpText(
        "after",
        "\nExamples:\n  $ ess2mqtt slot get ac_charge 1\n  $ ess2mqtt slot get forced_discharge 2 --json\n",
      ),
  ).action(async (kindText: string, nText: string, o: unknown) => {
    const kind = parseKind(kindText), n = parseN(nText);
    const regs = slotRegisters(kind, n);
    const values = await withTransport(
      o as CommonOpts,
      (t) => t.readHold(regs.start, regs.end - regs.start + 1),
    );
    const doc = slotDoc(kind, n, values[0], values[regs.end - regs.start]);
    ctx.print(human(doc, kind.label), doc);
  });

  addCommon(
    slot
      .command("set")
      .description("write one slot: both registers written and their echoes verified (else exit 6)")
      .argument("<kind>", KIND_NAMES.join(" | "))
      .argument("<n>", "1, 2 or 3")
      .argument("<window>", 'HH:MM-HH:MM or {"start":"HH:MM","end":"HH:MM"}')
      .addHelpText(
        "after",
        "\nExamples:\n  $ ess2mqtt slot set ac_charge 1 23:30-05:30\n  $ ess2mqtt slot set ac_charge 2 00:00-00:00 --via mqtt\n",
      ),
  ).action(async (kindText: string, nText: string, windowText: string, o: unknown) => {
    const kind = parseKind(kindText), n = parseN(nText);
    const parsed = parseSlot(windowText);
    if (typeof parsed === "string") throw new CliError(ExitCode.usage, `slot window: ${parsed}`);
    const echo = await withTransport(o as CommonOpts, (t) => t.writeSlot(kind.name, n, parsed));
    const doc = slotDoc(kind, n, echo.start, echo.end);
    ctx.print(`${human(doc, kind.label)}: OK`, { ok: true, ...doc });
  });
}
