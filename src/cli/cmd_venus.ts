// Venus commands: `sim venus` (the simulated GX), `dbus list`, `dbus get <service> <path>`.
// dbus-next and the simulator are imported inside the actions so other commands start fast.

import type { Command } from "@commander-js/extra-typings";
import type { CliContext, ProgramWithGlobals } from "./context.ts";
import { CliError, ExitCode } from "./errors.ts";

function group(program: ProgramWithGlobals, name: string, description: string): Command<any, any, any> {
  return program.commands.find((c) => c.name() === name) ?? program.command(name).description(description);
}

function nonNegInt(flag: string, text: string, max = 1_000_000): number {
  const n = /^\d+$/.test(text.trim()) ? Number(text) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > max) {
    throw new CliError(ExitCode.usage, `${flag} must be an integer 0..${max}, got "${text}"`);
  }
  return n;
}

function seconds(flag: string, text: string): number {
  const n = Number(text);
  if (text.trim() === "" || !Number.isFinite(n) || n < 0) {
    throw new CliError(ExitCode.usage, `${flag} must be a number of seconds ≥ 0, got "${text}"`);
  }
  return n;
}

function waitForAbort(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((r) => signal.addEventListener("abort", () => r(), { once: true }));
}

async function busAddress(ctx: CliContext, flag: string | undefined): Promise<string> {
  if (flag) return flag;
  const config = await ctx.loadConfig();
  return config.dbus?.address ?? "system";
}

export function registerVenusCommands(program: ProgramWithGlobals, ctx: CliContext): void {
  // ---------------------------------------------------------------------------------------------
  group(program, "sim", "simulators for development and tests")
    .command("venus")
    .description(
      "run a simulated Victron GX: system, vebus (257), pvinverter (20), battery (512) and settings services on " +
        "a D-Bus, until SIGINT/SIGTERM",
    )
    .option(
      "--bus <address>",
      "D-Bus address to register on (default: start a private dbus-daemon and print its address)",
    )
    .option("--portal-id <id>", "portal id = com.victronenergy.system /Serial", "e0ff50a097c0")
    .option("--scale <n>", "extra load-test services with 200 paths each", "0")
    .option("--tick <ms>", "period of the live value changes (0 = none)", "1000")
    .option(
      "--night <seconds>",
      "pvinverter day/night cycle: off the bus for a quarter of every N seconds (0 = never)",
      "120",
    )
    .option("--misbehaving", "add a service that never answers GetItems")
    .option(
      "--rate <n>",
      "drive N changes per second over the load-test paths (needs --scale), values = send time in epoch ms",
    )
    .option("--duration <seconds>", "stop the --rate driver after this long (default: until interrupted)")
    .option("--json", "print the bus address as JSON")
    .addHelpText(
      "after",
      `
Examples:
  $ ess2mqtt sim venus                     # private dbus-daemon; prints its address for [dbus] address
  $ ess2mqtt sim venus --scale 10 --rate 2000 --duration 30 --tick 0`,
    )
    .action(async (o) => {
      const logger = ctx.logger().child({ component: "venus_sim" });
      const scale = nonNegInt("--scale", o.scale, 1000);
      const tickMs = nonNegInt("--tick", o.tick, 86_400_000);
      const nightS = seconds("--night", o.night);
      const rate = o.rate === undefined ? 0 : nonNegInt("--rate", o.rate, 1_000_000);
      if (rate > 0 && scale === 0) throw new CliError(ExitCode.usage, "--rate needs --scale ≥ 1");
      if (!/^[A-Za-z0-9_-]+$/.test(o.portalId)) {
        throw new CliError(
          ExitCode.usage,
          `--portal-id must be letters, digits, _ or -, got "${o.portalId}"`,
        );
      }
      const { VenusSim } = await import("../sim/venus.ts");
      const { startDbusDaemon } = await import("../sim/dbus_daemon.ts");
      let privateBus: Awaited<ReturnType<typeof startDbusDaemon>> | undefined;
      let address = o.bus;
      if (!address) {
        try {
          privateBus = await startDbusDaemon();
        } catch (err) {
          throw new CliError(
            ExitCode.unexpected,
            `cannot start a private dbus-daemon: ${(err as Error).message}`,
          );
        }
        address = privateBus.address;
      } else {
        const { resolveBusAddress } = await import("../venus/bus.ts");
        address = resolveBusAddress(address, (k) => Deno.env.get(k));
      }
      const sim = new VenusSim({
        address,
        portalId: o.portalId,
        scale,
        tickMs,
        nightCycleMs: nightS * 1000,
        misbehaving: o.misbehaving === true,
        logger,
      });
      try {
        await sim.start();
      } catch (err) {
        await sim.stop();
        await privateBus?.stop();
        throw new CliError(
          ExitCode.deviceUnreachable,
          `cannot register on D-Bus ${address}: ${(err as Error).message}`,
        );
      }
      const printable = address.replace("\0", "@");
      const json = o.json === true || ctx.json;
      const text = json
        ? JSON.stringify({ address: printable, portal_id: o.portalId, services: [...sim.services.keys()] })
        : `bus ${printable}\nportal id ${o.portalId}, ${sim.services.size} services` +
          (privateBus ? `\nuse: [dbus] address = ${printable}` : "");
      Deno.stdout.writeSync(new TextEncoder().encode(text + "\n"));
      if (rate > 0) {
        const durationMs = o.duration === undefined ? Infinity : seconds("--duration", o.duration) * 1000;
        void (async () => {
          let left = durationMs;
          while (!ctx.signal.aborted && left > 0) {
            const chunk = Math.min(left, 5000);
            const r = await sim.runRate(rate, chunk);
            logger.info("sim: changes sent", { sent: r.sent, ms: Math.round(r.elapsedMs) });
            left -= chunk;
          }
        })();
      }
      await waitForAbort(ctx.signal);
      await sim.stop();
      await privateBus?.stop();
      Deno.exit(ExitCode.ok);
    });

  // ---------------------------------------------------------------------------------------------
  const dbusGroup = group(program, "dbus", "one-shot D-Bus queries (Venus)");
  dbusGroup
    .command("list")
    .description("list the com.victronenergy services: type, instance, number of items")
    .option("--bus <address>", "system, session or a D-Bus address (default [dbus] address, else system)")
    .option("--timeout <seconds>", "per-call timeout", "5")
    .option("--json", "print one JSON document")
    .addHelpText(
      "after",
      `
Examples:
  $ ess2mqtt dbus list
  $ ess2mqtt dbus list --bus unix:path=/tmp/ess2mqtt-sim-bus/bus --json`,
    )
    .action(async (o) => {
      const { DbusLink } = await import("../venus/link.ts");
      const address = await busAddress(ctx, o.bus);
      const link = new DbusLink(
        { address, callTimeoutMs: seconds("--timeout", o.timeout) * 1000 },
        ctx.logger(),
      );
      try {
        await link.start();
        const rows = [...link.services.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map((s) => ({
          service: s.name,
          type: s.type,
          instance: s.instance,
          items: s.items.size,
          method: s.method,
        }));
        const skipped = [...link.skipped].map(([service, error]) => ({ service, error }));
        const human = rows.map((r) => `${r.service}  ${r.type}/${r.instance}  ${r.items} items`).join("\n") +
          skipped.map((s) => `\n${s.service}  SKIPPED: ${s.error}`).join("");
        if (o.json || ctx.json) {
          Deno.stdout.writeSync(
            new TextEncoder().encode(JSON.stringify({ services: rows, skipped }, null, 2) + "\n"),
          );
        } else ctx.print(human || "(no com.victronenergy services)", { services: rows, skipped });
      } finally {
        await link.stop();
      }
    });

  dbusGroup
    .command("get")
    .description("GetValue of one item (or a subtree) of a service, printed as JSON")
    .argument(
      "<service>",
      "bus name (com.victronenergy.vebus.ttyO1), its type (vebus), or type/instance as `dbus list` prints it (battery/512)",
    )
    .argument("[path]", "D-Bus path, e.g. /Ac/Power (or append it: battery/512/Dc/0/Voltage)")
    .option("--bus <address>", "system, session or a D-Bus address (default [dbus] address, else system)")
    .option("--timeout <seconds>", "per-call timeout", "5")
    .option("--json", "print one JSON document")
    .addHelpText(
      "after",
      `
Examples:
  $ ess2mqtt dbus get battery/512 /Dc/0/Voltage
  $ ess2mqtt dbus get vebus/257/Mode --json
  $ ess2mqtt dbus get com.victronenergy.settings /Settings/CGwacs/AcPowerSetPoint --bus unix:path=/tmp/bus`,
    )
    .action(async (service: string, pathArg: string | undefined, o) => {
      const { RawBus, busGetValue, busGetText, resolveBusAddress } = await import("../venus/bus.ts");
      const { findServiceName } = await import("../venus/link.ts");
      const { errText } = await import("../venus/errors.ts");
      const { parseDeviceRef } = await import("../venus/topics.ts");
      const { isValidObjectPath, variantToJson } = await import("../venus/variant.ts");
      const ref = service.startsWith("com.") ? undefined : parseDeviceRef(service);
      if (ref?.path !== undefined && pathArg !== undefined) {
        throw new CliError(
          ExitCode.usage,
          `give the path once: in "${service}" or as <path> (got "${pathArg}")`,
        );
      }
      const path = ref?.path ?? pathArg;
      if (path === undefined) throw new CliError(ExitCode.usage, `missing <path> (e.g. /Ac/Power)`);
      if (!isValidObjectPath(path)) {
        throw new CliError(ExitCode.usage, `not a D-Bus object path (got "${path}")`);
      }
      const address = resolveBusAddress(await busAddress(ctx, o.bus), (k) => Deno.env.get(k));
      const timeoutMs = seconds("--timeout", o.timeout) * 1000;
      let rb;
      try {
        rb = await RawBus.connect({ address, connectTimeoutMs: timeoutMs });
      } catch (err) {
        throw new CliError(
          ExitCode.deviceUnreachable,
          `D-Bus ${address.replace("\0", "@")} unreachable: ${errText(err)}`,
        );
      }
      try {
        let name = service;
        if (!name.startsWith("com.")) {
          const type = ref?.type ?? service;
          const found = await findServiceName(rb, type, ref?.instance, timeoutMs);
          if (found === undefined) {
            const what = ref ? `${ref.type}/${ref.instance}` : service;
            throw new CliError(ExitCode.deviceFailure, `no com.victronenergy service ${what} on the bus`);
          }
          name = found;
        }
        let value, text;
        try {
          value = variantToJson(await busGetValue(rb, name, path, timeoutMs));
          text = await busGetText(rb, name, path, timeoutMs).catch(() => undefined);
        } catch (err) {
          throw new CliError(ExitCode.deviceFailure, `GetValue ${name} ${path} failed: ${errText(err)}`);
        }
        const doc = { service: name, path, value, text: typeof text === "string" ? text : null };
        if (o.json || ctx.json) Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(doc) + "\n"));
        else ctx.print(`${JSON.stringify(value)}${typeof text === "string" ? `  (${text})` : ""}`, doc);
      } finally {
        await rb.close();
      }
    });
}
