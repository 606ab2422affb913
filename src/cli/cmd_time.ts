// `ess2mqtt time get|set|sync`: the inverter clock (holdings 12–14). The inverter has no time zone: it
// shows the host's local wall time (DST included), and drift is inverter minus host wall clock.

import type { CliContext, ProgramWithGlobals } from "./context.ts";
import { CliError, ExitCode } from "./errors.ts";
import { parseSeconds } from "./args.ts";
import { addCommon, type CommonOpts, withTransport as withOneShotTransport } from "./one_shot.ts";
import type { RegisterTransport } from "../lxp/transport.ts";
import {
  CLOCK_COUNT,
  CLOCK_REGISTER,
  type ClockFields,
  decodeClock,
  driftSeconds,
  formatClock,
  localFields,
  parseClock,
} from "../lxp/clock.ts";
import { LxpError } from "../lxp/errors.ts";

export function registerTimeCommands(program: ProgramWithGlobals, ctx: CliContext): void {
  const withTransport = <T>(opts: CommonOpts, fn: (t: RegisterTransport) => Promise<T>) =>
    withOneShotTransport(ctx, opts, fn);

  async function readClock(t: RegisterTransport): Promise<{ regs: number[]; fields: ClockFields }> {
    const regs = await t.readHold(CLOCK_REGISTER, CLOCK_COUNT);
    const fields = decodeClock(regs);
    if (typeof fields === "string") throw new LxpError("mismatch", fields);
    return { regs, fields };
  }

  const time = program
    .command("time")
    .description("the inverter clock (holdings 12–14; the host's local time, no time zone)");

  addCommon(
    time.command("get").description("read the inverter clock and its drift from this host's local time"),
  ).action(async (o: unknown) => {
    const { regs, fields } = await withTransport(o as CommonOpts, readClock);
    const host = new Date();
    const drift = driftSeconds(fields, host);
    ctx.print(
      `inverter ${formatClock(fields)}, host ${formatClock(localFields(host))}, drift ${signed(drift)} s`,
      {
        inverter: formatClock(fields),
        host: formatClock(localFields(host)),
        drift_s: drift,
        registers: { 12: regs[0], 13: regs[1], 14: regs[2] },
      },
    );
  });

  addCommon(
    time
      .command("set")
      .description("set the inverter clock (one write-multi of 12–14)")
      .argument("<time>", '"YYYY-MM-DD HH:MM:SS" (local wall time) or now'),
  ).action(async (text: string, o: unknown) => {
    let fields: ClockFields | undefined;
    if (text.trim().toLowerCase() !== "now") {
      const parsed = parseClock(text);
      if (typeof parsed === "string") throw new CliError(ExitCode.usage, `time: ${parsed}`);
      fields = parsed;
    }
    const set = await withTransport(o as CommonOpts, async (t) => {
      const f = fields ?? localFields(new Date());
      await t.setClock(f);
      return f;
    });
    ctx.print(`inverter clock := ${formatClock(set)}: OK`, { ok: true, inverter: formatClock(set) });
  });

  addCommon(
    time
      .command("sync")
      .description("set the inverter clock to this host's local time when it drifts more than --threshold")
      .option("--threshold <seconds>", "drift tolerated (default 0: any drift of a second or more)", "0"),
  ).action(async (o: unknown) => {
    const opts = o as CommonOpts & { threshold: string };
    const threshold = parseSeconds("--threshold", opts.threshold, true);
    const { syncClock } = await import("../lxp/clock_sync.ts");
    const r = await withTransport(opts, (t) => syncClock(t, () => new Date(), threshold));
    const drift = Number.isFinite(r.driftS) ? r.driftS : null;
    const what = r.synced
      ? `set to ${formatClock(localFields(new Date()))}`
      : `within ${threshold} s: not changed`;
    const inverter = r.inverter ? formatClock(r.inverter) : `invalid (${r.invalid})`;
    ctx.print(
      `inverter ${inverter}, drift ${drift === null ? "unknown" : `${signed(drift)} s`}: ${what}`,
      {
        ok: true,
        inverter: r.inverter ? formatClock(r.inverter) : null,
        ...(r.invalid ? { invalid: r.invalid } : {}),
        host: formatClock(r.host),
        drift_s: drift,
        threshold_s: threshold,
        synced: r.synced,
      },
    );
  });
}

const signed = (n: number) => (n > 0 ? `+${n}` : String(n));
