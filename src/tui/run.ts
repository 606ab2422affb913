// `ess2mqtt tui`: picks the source (--via mqtt: the bridges' topics on the broker; --via direct: the dongle
// and the bus themselves), folds its events into the store and runs the console on the alternate screen.

import type { Config, InverterConfig } from "../config.ts";
import { TuiError } from "./errors.ts";
import { loggerFor, LogSink } from "../log.ts";
import { emptyState, type Via } from "./state.ts";
import { Store } from "./store.ts";
import { effectRunner } from "./effects.ts";
import type { TuiSource } from "./source.ts";

export interface TuiOptions {
  config: Config;
  /** Aborted on SIGTERM (and SIGINT when the terminal is not in raw mode). */
  signal: AbortSignal;
  /** --via; default: mqtt when [mqtt] uri is set, else direct when [lxp] or [dbus] is, else an error. */
  via?: Via;
  /** Several inverters ([lxp.NAME]): the one to show (--inverter); default the first. */
  inverter?: InverterConfig;
}

/** The source a config and a --via flag call for, or TuiError "nothing-to-show". */
export function chooseVia(config: Config, via?: Via): Via {
  if (via === "mqtt") return via;
  if (via === "direct") {
    if (config.lxp || config.dbus) return via;
    throw new TuiError(
      "nothing-to-show",
      "--via direct needs [lxp] host (the dongle) and/or [dbus] address (the Venus bus) in the config",
    );
  }
  if (config.mqtt.uri) return "mqtt";
  if (config.lxp || config.dbus) return "direct";
  throw new TuiError(
    "nothing-to-show",
    "nothing to show: set [mqtt] uri (the broker `ess2mqtt serve` publishes to) or, for --via direct, " +
      "[lxp] host (the dongle) and/or [dbus] address (the Venus bus)",
  );
}

/**
 * Runs the console until q (→ "quit") or Ctrl-C / the signal (→ "interrupted"); with several inverters
 * ([lxp.NAME]) `n` shows the next one (the console starts again on its topics or its dongle).
 */
export async function runTui(o: TuiOptions): Promise<"quit" | "interrupted"> {
  if (!Deno.stdin.isTerminal() || !Deno.stdout.isTerminal()) {
    throw new TuiError("no-terminal", "tui needs an interactive terminal (stdin and stdout must be a TTY)");
  }
  const all = o.config.inverters;
  let index = Math.max(0, all.indexOf(o.inverter ?? all[0]));
  while (true) {
    const outcome = await runOnce({ ...o, inverter: all[index] }, all.length > 1);
    if (outcome !== "next") return outcome;
    index = (index + 1) % all.length;
  }
}

async function runOnce(
  { config, signal, via, inverter }: TuiOptions,
  canSwitchInverter: boolean,
): Promise<"quit" | "interrupted" | "next"> {
  const chosen = chooseVia(config, via);
  // The log goes to the log pane, not over the screen.
  const sink = new LogSink({ level: "info", json: false, colour: false, write: () => {}, ringSize: 500 });
  const logger = loggerFor(sink, { component: "tui" });
  let source: TuiSource;
  if (chosen === "mqtt") {
    const { MqttSource } = await import("./source_mqtt.ts");
    source = new MqttSource({ config, inverter: inverter ?? config.lxp }, logger);
  } else {
    const { DirectSource } = await import("./source_direct.ts");
    source = new DirectSource(inverter ? { ...config, lxp: inverter } : config, logger);
  }
  const store = new Store(emptyState(chosen, source.where, source.prefix, Date.now()), sink.ring);
  const offLog = sink.onEntry(() => store.changed());
  try {
    await source.start((ev) => {
      const note = store.apply(ev);
      if (note) {
        if (note.includes(" lost")) logger.warn(note);
        else logger.info(note);
      }
    });
  } catch (err) {
    offLog();
    await source.stop();
    throw err;
  }
  // fresh inputs now and whenever the inverter is reachable again; outcomes land in the log
  let inverterUp = false;
  const onInverter = () => {
    const up = store.state.links.inverter.state === "up";
    if (up && !inverterUp && source.registers) {
      source.requestInputs().catch((err) =>
        logger.warn("input request failed", { error: (err as Error).message })
      );
    }
    inverterUp = up;
  };
  const offInverter = store.subscribe(onInverter);
  onInverter();

  let outcome: "quit" | "interrupted" | "next" = "quit";
  const noColor = (Deno.env.get("NO_COLOR") ?? "") !== "";
  // React's development build captures a stack per element: several times the CPU of the production one.
  if (!Deno.env.get("NODE_ENV")) Deno.env.set("NODE_ENV", "production");
  // Colour support is judged from the terminal, but chalk turns it off wherever CI=true is set (a terminal
  // opened inside a CI job); only NO_COLOR switches colours off here.
  if (!noColor && Deno.env.get("CI") && !Deno.env.get("FORCE_COLOR")) {
    Deno.env.set("FORCE_COLOR", /256|truecolor/.test(Deno.env.get("TERM") ?? "") ? "2" : "1");
  }
  const { mountDashboard } = await import("./app.tsx");
  const app = mountDashboard({
    store,
    run: effectRunner(source, store),
    mono: noColor,
    onExit: (how) => {
      outcome = how === "interrupt" ? "interrupted" : how;
    },
    canSwitchInverter,
    onKeepalive: (f) => source.setKeepalive(f),
  }, {
    exitOnCtrlC: false,
    alternateScreen: true,
    maxFps: 10,
    patchConsole: false,
    // stdin and stdout are a terminal (checked above): render live even where CI=true is set
    interactive: true,
  });
  const onAbort = () => {
    outcome = "interrupted";
    app.unmount();
  };
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    await app.waitUntilExit();
  } finally {
    signal.removeEventListener("abort", onAbort);
    offLog();
    offInverter();
    await source.stop();
  }
  return outcome;
}
