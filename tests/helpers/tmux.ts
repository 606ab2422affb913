// A program running in a real terminal: its own tmux server (private socket, so nothing else's sessions
// are touched), one session of a given size; the screen is read with capture-pane. Stopped by the test.

import { until } from "./wait.ts";

export interface TmuxSession {
  /** The screen as text lines (no colours). */
  capture(): Promise<string>;
  /** The screen with its SGR escape sequences (colours, bold, inverse). */
  captureStyled(): Promise<string>;
  /** Key names as tmux knows them ("Enter", "Down", "BSpace", "q"). */
  keys(...keys: string[]): Promise<void>;
  /** Literal text. */
  type(text: string): Promise<void>;
  resize(columns: number, rows: number): Promise<void>;
  /** Polls the screen until `pred` holds; the screen is in the error when it doesn't. */
  waitFor(pred: (screen: string) => boolean, what: string, ms?: number): Promise<string>;
  /** The exit code of the program once it ended (undefined while it runs). */
  exitCode(): Promise<number | undefined>;
  /** What the program wrote to stderr. */
  stderr(): Promise<string>;
  /** The pid of the pane's shell. */
  panePid(): Promise<number>;
  stop(): Promise<void>;
}

async function tmux(socket: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("tmux", {
    args: ["-L", socket, ...args],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  if (!out.success) throw new Error(`tmux ${args[0]} failed: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

export async function startTmux(
  argv: string[],
  size: { columns: number; rows: number },
  env: Record<string, string> = {},
): Promise<TmuxSession> {
  const dir = await Deno.makeTempDir({ prefix: "ess2mqtt-tmux-" });
  const socket = `ess2mqtt-test-${crypto.randomUUID().slice(0, 8)}`;
  // an empty value unsets the variable (e.g. NO_COLOR inherited from the test runner)
  const entries = Object.entries(env);
  const envs = [
    ...entries.filter(([, v]) => v === "").map(([k]) => `-u ${k}`),
    ...entries.filter(([, v]) => v !== "").map(([k, v]) => `${k}=${quote(v)}`),
  ].join(" ");
  const cmd = `env ${envs} ${argv.map(quote).join(" ")} 2>${dir}/stderr; echo $? > ${dir}/exit; sleep 600`;
  await tmux(
    socket,
    "-f",
    "/dev/null",
    "new-session",
    "-d",
    "-s",
    "t",
    "-x",
    String(size.columns),
    "-y",
    String(size.rows),
    cmd,
  );
  const s: TmuxSession = {
    capture: () => tmux(socket, "capture-pane", "-p", "-t", "t"),
    captureStyled: () => tmux(socket, "capture-pane", "-p", "-e", "-t", "t"),
    keys: async (...keys) => void await tmux(socket, "send-keys", "-t", "t", ...keys),
    type: async (text) => void await tmux(socket, "send-keys", "-t", "t", "-l", "--", text),
    resize: async (columns, rows) =>
      void await tmux(socket, "resize-window", "-t", "t", "-x", String(columns), "-y", String(rows)),
    async waitFor(pred, what, ms = 20000) {
      let screen = "";
      await until(async () => pred(screen = await s.capture()), what, ms, () => screen.split("\n"));
      return screen;
    },
    async exitCode() {
      try {
        const t = (await Deno.readTextFile(`${dir}/exit`)).trim();
        return t === "" ? undefined : Number(t);
      } catch {
        return undefined;
      }
    },
    stderr: () => Deno.readTextFile(`${dir}/stderr`).catch(() => ""),
    panePid: async () =>
      Number((await tmux(socket, "display-message", "-p", "-t", "t", "#{pane_pid}")).trim()),
    async stop() {
      await tmux(socket, "kill-server").catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
  return s;
}
