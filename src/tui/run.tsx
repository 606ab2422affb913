// `ess2mqtt tui`: connects to the broker of the config, follows the bridges' topics and renders the dashboard.

import { render } from "ink";
import type { Config } from "../config.ts";
import { mqttLinkOptions } from "../app.ts";
import { TuiError } from "./errors.ts";
import { MqttLink } from "../mqtt/client.ts";
import { loggerFor, LogSink } from "../log.ts";
import { applyMessage, emptyState } from "./state.ts";
import { Dashboard } from "./app.tsx";

export interface TuiOptions {
  config: Config;
  /** Aborted on SIGTERM (and SIGINT when the terminal is not in raw mode). */
  signal: AbortSignal;
}

/** Runs the dashboard until q (→ "quit") or Ctrl-C / the signal (→ "interrupted"). */
export async function runTui({ config, signal }: TuiOptions): Promise<"quit" | "interrupted"> {
  if (!Deno.stdin.isTerminal() || !Deno.stdout.isTerminal()) {
    throw new TuiError("no-terminal", "tui needs an interactive terminal (stdin and stdout must be a TTY)");
  }
  const m = config.mqtt;
  // The log goes to the dashboard's log pane, not over the screen.
  const sink = new LogSink({ level: "info", json: false, colour: false, write: () => {}, ringSize: 200 });
  const logger = loggerFor(sink, { component: "tui" });
  const link = new MqttLink(mqttLinkOptions(m, { clientIdSuffix: "_tui" }), logger);
  const state = emptyState(m.prefix);
  link.subscribe(`${m.prefix}/#`, (msg) => applyMessage(state, msg.topic, msg.payload));
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
    for (const block of ["1", "2", "3"]) link.publish(`${m.prefix}/cmd/read_input`, block);
    for (let reg = 0; reg < 240; reg += 40) link.publish(`${m.prefix}/cmd/read_hold`, `${reg},40`);
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
