// The one-shot register commands' common ground: the --via/--host/… flags, the dongle target from flags
// and config, opening the register transport (LXP or MQTT), the quiet logger, and running an operation
// that Ctrl-C ends at once. cmd_lxp, cmd_slot, cmd_time and cmd_capture build on it.

import type { Command } from "@commander-js/extra-typings";
import type { CliContext } from "./context.ts";
import { CliError, ExitCode } from "./errors.ts";
import { parseChoice, parsePort, parseSeconds, parseSerial } from "./args.ts";
import type { Logger } from "../log.ts";
import type { LxpTarget, RegisterTransport } from "../lxp/transport.ts";
import { chooseInverter, INVERTER_FLAG, INVERTER_HELP } from "./inverter_option.ts";

const VIAS = ["lxp", "mqtt"] as const;
type Via = (typeof VIAS)[number];

export interface CommonOpts {
  host?: string;
  port?: string;
  datalog?: string;
  serial?: string;
  timeout?: string;
  via?: string;
  broker?: string;
  inverter?: string;
}

/** Merges command-line flags with the [lxp] section; the dongle port defaults to 8000. */
export async function resolveLxpTarget(
  opts: CommonOpts,
  ctx: CliContext,
  timeoutMs?: number,
): Promise<LxpTarget> {
  const flags = {
    host: opts.host,
    port: opts.port === undefined ? undefined : parsePort("--port", opts.port),
    datalog: opts.datalog === undefined ? undefined : parseSerial("--datalog", opts.datalog),
    serial: opts.serial === undefined ? undefined : parseSerial("--serial", opts.serial),
  };
  const complete = flags.host !== undefined && flags.datalog !== undefined && flags.serial !== undefined;
  const cfg = complete && opts.inverter === undefined
    ? undefined
    : chooseInverter(await ctx.loadConfig(), opts.inverter);
  if (!complete && !cfg) {
    const missing = (["host", "datalog", "serial"] as const).filter((k) => flags[k] === undefined);
    throw new CliError(
      ExitCode.config,
      `the config has no [lxp] section: add one or give --${missing.join(", --")}`,
    );
  }
  return {
    host: flags.host ?? cfg!.host,
    port: flags.port ?? cfg?.port ?? 8000,
    datalog: flags.datalog ?? cfg!.datalog,
    serial: flags.serial ?? cfg!.serial,
    timeoutMs: timeoutMs ?? Math.round((cfg?.command_timeout ?? 5) * 1000),
    connectTimeoutMs: timeoutMs ?? Math.round((cfg?.connect_timeout ?? 5) * 1000),
    heartbeats: cfg?.heartbeats ?? false,
  };
}

/** `lxp` when the dongle is known (flags or [lxp] host), else `mqtt` (through a running bridge). */
async function defaultVia(opts: CommonOpts, ctx: CliContext): Promise<Via> {
  if (opts.broker !== undefined) return "mqtt";
  if (opts.host !== undefined || opts.port !== undefined) return "lxp";
  return chooseInverter(await ctx.loadConfig(), opts.inverter)?.host ? "lxp" : "mqtt";
}

async function openTransport(
  opts: CommonOpts,
  ctx: CliContext,
  logger: Logger,
): Promise<RegisterTransport> {
  const via = opts.via === undefined ? await defaultVia(opts, ctx) : parseChoice("--via", opts.via, VIAS);
  const timeoutMs = opts.timeout === undefined
    ? undefined
    : Math.round(parseSeconds("--timeout", opts.timeout) * 1000);
  if (via === "lxp") {
    if (opts.broker !== undefined) throw new CliError(ExitCode.usage, "--broker goes with --via mqtt");
    const { openLxpTransport } = await import("../lxp/transport.ts");
    return openLxpTransport(await resolveLxpTarget(opts, ctx, timeoutMs), logger);
  }
  for (const flag of ["host", "port", "datalog", "serial"] as const) {
    if (opts[flag] !== undefined) throw new CliError(ExitCode.usage, `--${flag} goes with --via lxp`);
  }
  const config = await ctx.loadConfig();
  if (opts.broker !== undefined) {
    const { checkBrokerUri } = await import("../mqtt/address.ts");
    const problem = checkBrokerUri(opts.broker);
    if (problem) throw new CliError(ExitCode.usage, `--broker: ${problem}`);
  }
  const { mqttLinkOptions } = await import("../app.ts");
  const { MqttRegisterTransport } = await import("../bridges/mqtt_register_transport.ts");
  // The bridge's topics for this inverter; with no [lxp] section here, --inverter names the remote one.
  const inverter = config.inverters.length ? chooseInverter(config, opts.inverter) : undefined;
  if (!inverter && config.mqtt.topics === "lxp-bridge") {
    throw new CliError(
      ExitCode.config,
      "[mqtt] topics = lxp-bridge names inverters by datalog: add the inverter's [lxp] section to the config",
    );
  }
  const { topicLayout } = await import("../lxp/topics.ts");
  const layout = topicLayout({
    layout: config.mqtt.topics,
    prefix: config.mqtt.prefix,
    name: inverter ? inverter.name : opts.inverter,
    datalog: inverter?.datalog ?? "",
  });
  const waitMs = timeoutMs ?? ((inverter?.command_timeout ?? 10) * 1000 + 2000);
  return MqttRegisterTransport.open({
    link: mqttLinkOptions(config.mqtt, {
      uri: opts.broker,
      clientIdSuffix: "_cli",
      connectTimeoutMs: waitMs,
      reconnectPeriodMs: 0,
    }),
    layout,
    timeoutMs: waitMs,
  }, logger);
}

/** A logger for one-shot commands: warnings and errors only unless -v (the final error is printed anyway). */
export function oneShotLogger(base: Logger, verbose: boolean): Logger {
  if (verbose) return base;
  const wrap = (l: Logger): Logger => ({
    debug() {},
    info() {},
    warn(msg, fields) {
      if (msg !== "cannot connect to dongle") l.warn(msg, fields);
    },
    error(msg, fields) {
      l.error(msg, fields);
    },
    child(fields) {
      return wrap(l.child(fields));
    },
  });
  return wrap(base);
}

export function addCommon<C extends Command<any, any, any>>(cmd: C): C {
  cmd
    .option(
      "--via <transport>",
      "lxp (direct TCP to the dongle) or mqtt (through a running bridge); default: lxp when [lxp] host or --host is given, else mqtt",
    )
    .option("--host <host>", "dongle host (overrides [lxp] host)")
    .option("--port <port>", "dongle TCP port (overrides [lxp] port; default 8000)")
    .option("--datalog <serial>", "dongle (datalog) serial, 10 characters (overrides [lxp] datalog)")
    .option("--serial <serial>", "inverter serial, 10 characters (overrides [lxp] serial)")
    .option(INVERTER_FLAG, INVERTER_HELP)
    .option(
      "--broker <uri>",
      "with --via mqtt: the broker (default: [mqtt] uri, or the embedded broker's listen)",
    )
    .option("--timeout <seconds>", "connect and reply timeout in seconds (default [lxp] command_timeout, 5)");
  return cmd;
}

export const examples = (...lines: string[]) => `\nExamples:\n${lines.map((l) => `  $ ${l}`).join("\n")}\n`;

/** Validates the flags, opens the transport, runs fn, always closes; Ctrl-C ends it at once (130). */
export async function withTransport<T>(
  ctx: CliContext,
  opts: CommonOpts,
  fn: (t: RegisterTransport) => Promise<T>,
): Promise<T> {
  const logger = oneShotLogger(ctx.logger(), ctx.verbose);
  const transport = await ctx.interruptible(openTransport(opts, ctx, logger));
  try {
    return await ctx.interruptible(fn(transport));
  } finally {
    await transport.close();
  }
}
