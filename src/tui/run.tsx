// `ess2mqtt tui`: connects to the broker of the config, follows the bridges' topics and renders the dashboard.

import { render } from "ink";
import type { Config } from "../config.ts";
import { mqttLinkOptions } from "../app.ts";
import { TuiError } from "./errors.ts";
import { MqttLink } from "../mqtt/client.ts";
import { loggerFor, LogSink } from "../log.ts";
import { applyMessage, emptyState } from "./state.ts";
import { Dashboard } from "./app.tsx";
import { topicLayout } from "../lxp/topics.ts";

export interface TuiOptions {
  config: Config;
  /** Aborted on SIGTERM (and SIGINT when the terminal is not in raw mode). */
  signal: AbortSignal;
  /** The [lxp.NAME] inverter to follow (octolux/NAME/…); absent: the seed's topics. */
  inverter?: string;
}

/** Runs the dashboard until q (→ "quit") or Ctrl-C / the signal (→ "interrupted"). */
export async function runTui({ config, signal, inverter }: TuiOptions): Promise<"quit" | "interrupted"> {
  if (!Deno.stdin.isTerminal() || !Deno.stdout.isTerminal()) {
    throw new TuiError("no-terminal", "tui needs an interactive terminal (stdin and stdout must be a TTY)");
  }
  const m = config.mqtt;
  // The log goes to the dashboard's log pane, not over the screen.
  const sink = new LogSink({ level: "info", json: false, colour: false, write: () => {}, ringSize: 200 });
  const logger = loggerFor(sink, { component: "tui" });
  const link = new MqttLink(mqttLinkOptions(m, { clientIdSuffix: "_tui" }), logger);
  const inv = config.inverters.find((i) => i.name === (inverter ?? ""));
  const layout = topicLayout({
    layout: m.topics,
    prefix: m.prefix,
    name: inverter,
    datalog: inv?.datalog ?? config.lxp?.datalog ?? "",
  });
  const base = layout.state("inverter").slice(0, -"/inverter".length);
  const state = emptyState(base, layout.status);
  link.subscribe(`${base}/#`, (msg) => applyMessage(state, msg.topic, msg.payload));
  if (!layout.status.startsWith(`${base}/`)) {
    link.subscribe(layout.status, (msg) => applyMessage(state, msg.topic, msg.payload));
  }
  link.subscribe("N/#", (msg) => applyMessage(state, msg.topic, msg.payload));
  await link.start();

  const keepalive = () => {
    if (state.portal) link.publish(`R/${state.portal}/keepalive`, "");
  };
  const keepaliveTimer = setInterval(keepalive, 30_000);
  const portalProbe = setInterval(() => {
    if (state.portal) {
      keepalive();
      clearInterval(portalProbe);
    }
  }, 500);
  const refresh = () => {
    const send = (name: string, payload: string) => {
      const c = layout.encodeCommand(name, payload);
      if (c) link.publish(c.topic, c.payload);
    };
    for (const block of ["1", "2", "3"]) send("read_input", block);
    for (let reg = 0; reg < 240; reg += 40) send("read_hold", `${reg},40`);
    keepalive();
  };
  refresh();
  let interrupted = false;
  const onInterrupt = () => {
    interrupted = true;
  };
  const app = render(
    <Dashboard getState={() => state} getLog={() => sink.ring} refresh={refresh} onInterrupt={onInterrupt} />,
    { exitOnCtrlC: false },
  );
  const onAbort = () => {
    interrupted = true;
    app.unmount();
  };
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    await app.waitUntilExit();
  } finally {
    clearInterval(keepaliveTimer);
    clearInterval(portalProbe);
    signal.removeEventListener("abort", onAbort);
    await link.stop();
  }
  return interrupted ? "interrupted" : "quit";
}
