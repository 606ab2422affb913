// `ess2mqtt tui`: connects to the broker of the config, follows the bridges' topics and renders the dashboard.

import { render } from "ink";
import type { CliContext } from "../cli/main.ts";
import { TuiError } from "./errors.ts";
import { MqttLink } from "../mqtt/client.ts";
import { embeddedClientOptions } from "../mqtt/broker.ts";
import { loggerFor, LogSink } from "../log.ts";
import { applyMessage, emptyState } from "./state.ts";
import { Dashboard } from "./app.tsx";

export async function runTui(ctx: CliContext): Promise<void> {
  if (!Deno.stdin.isTerminal() || !Deno.stdout.isTerminal()) {
    throw new TuiError("no-terminal", "tui needs an interactive terminal (stdin and stdout must be a TTY)");
  }
  const config = await ctx.loadConfig();
  const m = config.mqtt;
  // The log goes to the dashboard's log pane, not over the screen.
  const sink = new LogSink({ level: "info", json: false, colour: false, write: () => {}, ringSize: 200 });
  const logger = loggerFor(sink, { component: "tui" });
  const local = m.uri ? undefined : embeddedClientOptions(m); // serve's embedded broker
  const uri = m.uri || local!.uri;
  const link = new MqttLink({
    uri,
    username: local ? local.username : m.username || undefined,
    password: local ? local.password : m.password || undefined,
    ca: m.ca || undefined,
    cert: m.cert || undefined,
    key: m.key || undefined,
    rejectUnauthorized: local ? local.rejectUnauthorized : m.reject_unauthorized,
  }, logger);
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
  const app = render(<Dashboard getState={() => state} getLog={() => sink.ring} refresh={refresh} />);
  const onAbort = () => app.unmount();
  ctx.signal.addEventListener("abort", onAbort, { once: true });
  try {
    await app.waitUntilExit();
  } finally {
    clearInterval(keepaliveTimer);
    clearInterval(portalProbe);
    ctx.signal.removeEventListener("abort", onAbort);
    await link.stop();
  }
}
