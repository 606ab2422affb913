// Runs the real CLI (`deno run -A main.ts …`) as a subprocess.

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const decoder = new TextDecoder();

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run a one-shot command to completion. */
export async function runCli(args: string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<CliResult> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", MAIN, ...args],
    env: { NO_COLOR: "1", ...opts.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, opts.timeoutMs ?? 30000);
  const out = await child.output();
  clearTimeout(timer);
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** A long-running CLI process (serve, sim …) whose stderr/stdout lines can be awaited. */
export function spawnCli(args: string[], opts: { env?: Record<string, string> } = {}) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", MAIN, ...args],
    env: { NO_COLOR: "1", ...opts.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const waiters: { pred: (l: string) => boolean; resolve: (l: string) => void }[] = [];
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    let buf = "";
    for await (const chunk of stream) {
      buf += decoder.decode(chunk, { stream: true });
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        lines.push(line);
        for (const w of [...waiters]) {
          if (w.pred(line)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(line);
          }
        }
      }
    }
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  return {
    pid: child.pid,
    lines,
    waitFor(pred: (line: string) => boolean, timeoutMs = 15000): Promise<string> {
      const seen = lines.find(pred);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const w = {
          pred,
          resolve: (l: string) => {
            clearTimeout(t);
            resolve(l);
          },
        };
        const t = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`timed out waiting for output; last lines:\n${lines.slice(-15).join("\n")}`));
        }, timeoutMs);
        waiters.push(w);
      });
    },
    /** SIGTERM (or the given signal), then wait; returns the exit code. */
    async stop(signal: Deno.Signal = "SIGTERM"): Promise<number> {
      try {
        child.kill(signal);
      } catch { /* gone */ }
      const killer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* gone */ }
      }, 10000);
      const { code } = await child.status;
      clearTimeout(killer);
      await pumps.catch(() => {});
      return code;
    },
  };
}

export async function writeConfig(text: string): Promise<{ path: string; remove(): Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "ess2mqtt-cfg-" });
  const path = `${dir}/config.ini`;
  await Deno.writeTextFile(path, text);
  return { path, remove: () => Deno.remove(dir, { recursive: true }) };
}
