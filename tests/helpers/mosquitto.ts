import { collectLines } from "./lines.ts";

// Starts a real mosquitto on a free loopback port for one test; the test stops it.

export interface Mosquitto {
  port: number;
  url: string;
  stop(): Promise<void>;
  /** Stop and start again on the same port (broker-restart tests). */
  restart(): Promise<void>;
  /** Stop the broker but keep its config, for an outage; restart() brings it back. */
  kill(): Promise<void>;
}

export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      c.close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  throw new Error(`mosquitto did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
}

/**
 * `extra(dir)` returns more config lines (further listeners, TLS, password files under `dir`); they follow the
 * plain listener on `port`, so they apply to the listeners they name.
 */
export async function startMosquitto(
  opts: { extra?: (dir: string) => Promise<string[]> | string[]; anonymous?: boolean } = {},
): Promise<Mosquitto> {
  const dir = await Deno.makeTempDir({ prefix: "ess2mqtt-mosquitto-" });
  const port = freePort();
  const conf = `${dir}/mosquitto.conf`;
  const extra = opts.extra ? await opts.extra(dir) : [];
  // Started as root, mosquitto drops to the "mosquitto" user: it must be able to read what `extra` wrote.
  await Deno.chmod(dir, 0o755);
  for await (const f of Deno.readDir(dir)) if (f.isFile) await Deno.chmod(`${dir}/${f.name}`, 0o644);
  await Deno.writeTextFile(
    conf,
    [
      "per_listener_settings false",
      `allow_anonymous ${opts.anonymous ?? true}`,
      "persistence false",
      "set_tcp_nodelay true",
      "log_type error",
      `listener ${port} 127.0.0.1`,
      ...extra,
      "",
    ].join("\n"),
  );
  let child: Deno.ChildProcess | undefined;
  let childStderr: Promise<void> | undefined;
  const launch = async () => {
    child = new Deno.Command("mosquitto", {
      args: ["-c", conf],
      stdout: "null",
      stderr: "piped",
      stdin: "null",
    })
      .spawn();
    const stderr = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let errText = "";
    const drain = (async () => {
      for (;;) {
        const { value, done } = await stderr.read();
        if (done) break;
        errText += value;
      }
    })();
    childStderr = drain;
    try {
      await waitForPort(port, 5000);
    } catch (err) {
      await kill();
      throw new Error(`${(err as Error).message}: ${errText.trim()}`);
    }
  };
  const kill = async () => {
    if (!child) return;
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    await child.status;
    await childStderr;
    child = undefined;
  };
  await launch();
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    restart: async () => {
      await kill();
      await launch();
    },
    kill,
    stop: async () => {
      await kill();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** Subscribe with a real mosquitto_sub and collect `topic payload` lines. */
export function mosquittoSub(port: number, topics: string[], extra: string[] = []) {
  const args = ["-h", "127.0.0.1", "-p", String(port), "-v", "-q", "1", ...extra];
  for (const t of topics) args.push("-t", t);
  const child = new Deno.Command("mosquitto_sub", { args, stdout: "piped", stderr: "null", stdin: "null" })
    .spawn();
  const out = collectLines([child.stdout]);
  return {
    lines: out.lines,
    waitFor: out.waitFor,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      await child.status;
      await out.done;
    },
  };
}

/**
 * Resolves once `sub` is subscribed: publishes `topic` (which its filters must match) until it receives one,
 * since mosquitto_sub gives no sign of when its subscription is active.
 */
export async function subscribed(
  sub: { lines: string[] },
  port: number,
  topic: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let n = 0;; n++) {
    await mosquittoPub(port, topic, `ready-${n}`);
    const until = Date.now() + 250;
    while (Date.now() < until) {
      if (sub.lines.some((l) => l.startsWith(`${topic} ready-`))) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    if (Date.now() > deadline) throw new Error(`mosquitto_sub never received ${topic}`);
  }
}

export async function mosquittoPub(port: number, topic: string, message: string, extra: string[] = []) {
  const out = await new Deno.Command("mosquitto_pub", {
    args: ["-h", "127.0.0.1", "-p", String(port), "-q", "1", "-t", topic, "-m", message, ...extra],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`mosquitto_pub failed: ${new TextDecoder().decode(out.stderr)}`);
}
