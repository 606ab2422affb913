// Runs the real CLI (`deno run -A main.ts …`) as a subprocess.

import { collectLines } from "./lines.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const DENO_JSON = new URL("../../deno.json", import.meta.url).pathname;
const decoder = new TextDecoder();

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `deno run` of main.ts with the project's deno.json, from `cwd` (default: this process's). */
function spawn(
  args: string[],
  env?: Record<string, string>,
  denoArgs: string[] = [],
  cwd?: string,
): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", "--config", DENO_JSON, ...denoArgs, MAIN, ...args],
    cwd,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Run a one-shot command to completion. */
export async function runCli(
  args: string[],
  opts: { env?: Record<string, string>; timeoutMs?: number; cwd?: string } = {},
): Promise<CliResult> {
  const child = spawn(args, opts.env, [], opts.cwd);
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
export function spawnCli(args: string[], opts: { env?: Record<string, string>; denoArgs?: string[] } = {}) {
  const child = spawn(args, opts.env, opts.denoArgs);
  const out = collectLines([child.stdout, child.stderr], 15000);
  return {
    pid: child.pid,
    lines: out.lines,
    waitFor: out.waitFor,
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
      await out.done;
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
