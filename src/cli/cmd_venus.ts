// Venus commands: `dbus list`, `dbus get <service> <path>` (`sim venus` is in cmd_sim.ts).
// dbus-next is imported inside the actions so other commands start fast.

import type { CliContext, ProgramWithGlobals } from "./context.ts";
import { CliError, ExitCode } from "./errors.ts";
import { parseSeconds } from "./args.ts";

async function busAddress(ctx: CliContext, flag: string | undefined): Promise<string> {
  if (flag) return flag;
  const config = await ctx.loadConfig();
  return config.dbus?.address ?? "system";
}

export function registerVenusCommands(program: ProgramWithGlobals, ctx: CliContext): void {
  // ---------------------------------------------------------------------------------------------
  const dbusGroup = program.command("dbus").description("one-shot D-Bus queries (Venus)");
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
        { address, callTimeoutMs: parseSeconds("--timeout", o.timeout) * 1000 },
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
      const timeoutMs = parseSeconds("--timeout", o.timeout) * 1000;
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
