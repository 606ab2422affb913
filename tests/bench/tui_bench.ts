// TUI benchmark: the real `ess2mqtt tui` in a terminal (tmux) while `sim venus --scale 50 --rate 1000`
// floods ~1,000 D-Bus changes per second over 10,000 load-test paths. The console shows the D-Bus pane
// filtered to the changing paths (so what is on screen really changes) and must stay cheap: its redraws
// are throttled to ≤ 10/s. CPU (% of one core) and RSS are read from /proc over a measuring window.
// Target: ≤ 25 % of one core, RSS ≤ 200 MB.
//
// Two sources: direct (the console decodes every PropertiesChanged signal itself) and mqtt (through
// `serve` and a mosquitto started here; the console's keep-alive covers everything while the filter is set).
//
// Run: deno run -A tests/bench/tui_bench.ts [--seconds 15] [--via direct,mqtt] [--pane dbus|inputs]
//   --pane inputs: stay on the inputs pane (the flood is folded but not drawn) to split event cost from drawing

import { startDbusDaemon } from "../helpers/dbus_daemon.ts";
import { startMosquitto } from "../helpers/mosquitto.ts";
import { spawnCli, writeConfig } from "../helpers/cli.ts";
import { startTmux, type TmuxSession } from "../helpers/tmux.ts";
import { sleep } from "../helpers/wait.ts";
import { cpuSeconds, rssMb } from "./proc_stats.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const DENO_JSON = new URL("../../deno.json", import.meta.url).pathname;
const PORTAL = "b0be7c000002";
const V8_FLAGS = "--max-semi-space-size=4";

export interface TuiFigures {
  via: string;
  seconds: number;
  /** Changes the simulator reported sending during the window (approximate: its 5-s chunks). */
  rate: number;
  cpuPercent: number;
  rssMb: number;
  peakRssMb: number;
}

/** The deno process running in the tmux pane (the pane's shell runs `env … deno …`, which execs). */
async function tuiPid(t: TmuxSession): Promise<number> {
  const panePid = await t.panePid();
  for (let i = 0; i < 100; i++) {
    for (const task of Deno.readDirSync(`/proc/${panePid}/task`)) {
      const kids = Deno.readTextFileSync(`/proc/${panePid}/task/${task.name}/children`).trim();
      for (const k of kids.split(" ").filter(Boolean)) {
        const cmd = Deno.readTextFileSync(`/proc/${k}/cmdline`);
        if (cmd.includes("main.ts")) return Number(k);
      }
    }
    await sleep(50);
  }
  throw new Error("tui process not found");
}

async function measure(via: "direct" | "mqtt", seconds: number, pane = "dbus"): Promise<TuiFigures> {
  const bus = await startDbusDaemon();
  const stops: (() => Promise<unknown>)[] = [() => bus.stop()];
  try {
    const sim = spawnCli([
      "sim",
      "venus",
      "--bus",
      bus.address,
      "--portal-id",
      PORTAL,
      "--scale",
      "50",
      "--rate",
      "1000",
      "--tick",
      "0",
      "--night",
      "0",
    ]);
    stops.unshift(() => sim.stop());
    await sim.waitFor((l) => l.startsWith("portal id"), 60000);
    let cfgText = `[dbus]\naddress = ${bus.address}\nkeepalive = 60\n`;
    if (via === "mqtt") {
      const mosq = await startMosquitto();
      stops.unshift(() => mosq.stop());
      cfgText = `[mqtt]\nuri = ${mosq.url}\n` + cfgText;
      const serveCfg = await writeConfig(cfgText);
      stops.unshift(() => serveCfg.remove());
      const serve = spawnCli(["-c", serveCfg.path, "serve"], {
        denoArgs: ["--v8-flags=--max-semi-space-size=4"],
      });
      stops.unshift(() => serve.stop());
      await serve.waitFor((l) => l.includes("Venus bridge running"), 60000);
    }
    const cfg = await writeConfig(cfgText);
    stops.unshift(() => cfg.remove());
    const argv = [
      Deno.execPath(),
      "run",
      "-A",
      "--quiet",
      `--v8-flags=${V8_FLAGS}`, // those of deno.json's tui task and of the compiled binary
      "--config",
      DENO_JSON,
      MAIN,
      "-c",
      cfg.path,
      "tui",
    ];
    if (via === "direct") argv.push("--via", "direct");
    const t = await startTmux(argv, { columns: 120, rows: 40 }, { TERM: "xterm-256color" });
    stops.unshift(() => t.stop());
    await t.waitFor((s) => /D-Bus up, 5\d svc/.test(s), "the services scanned", 60000);
    if (pane === "dbus") {
      await t.keys("3");
      await t.type("/load/p0");
      await t.keys("Enter");
      await t.waitFor(
        (s) => s.includes("filter: load/p0") && /\/Load\/P0\d\d\s+1\d{12}/.test(s),
        "live values",
        30000,
      );
    }
    const pid = await tuiPid(t);
    await sleep(2000); // settle
    const before = sim.lines.length;
    const c0 = cpuSeconds(pid), w0 = performance.now();
    await sleep(seconds * 1000);
    const c1 = cpuSeconds(pid), w1 = performance.now();
    const sent = sim.lines.slice(before).map((l) => /"sent":(\d+)/.exec(l)?.[1]).filter(Boolean).map(Number);
    const mem = rssMb(pid);
    await t.keys("q");
    return {
      via,
      seconds,
      rate: sent.length ? Math.round(sent.reduce((a, b) => a + b, 0) / (sent.length * 5)) : 0,
      cpuPercent: +((100 * (c1 - c0)) / ((w1 - w0) / 1000)).toFixed(1),
      rssMb: +mem.rss.toFixed(0),
      peakRssMb: +mem.hwm.toFixed(0),
    };
  } finally {
    for (const s of stops) await s().catch(() => {});
  }
}

export async function runTuiBench(
  opts: { seconds?: number; via?: ("direct" | "mqtt")[]; pane?: string } = {},
): Promise<{ targets: string; results: TuiFigures[] }> {
  const results: TuiFigures[] = [];
  for (const via of opts.via ?? ["direct", "mqtt"]) {
    results.push(await measure(via, opts.seconds ?? 15, opts.pane));
  }
  return { targets: "cpu ≤ 25 % of one core, RSS ≤ 200 MB", results };
}

if (import.meta.main) {
  const arg = (name: string) => {
    const i = Deno.args.indexOf(name);
    return i >= 0 ? Deno.args[i + 1] : undefined;
  };
  const r = await runTuiBench({
    seconds: arg("--seconds") ? Number(arg("--seconds")) : undefined,
    via: arg("--via")?.split(",") as ("direct" | "mqtt")[] | undefined,
    pane: arg("--pane"),
  });
  console.log(`TUI under ~1,000 D-Bus changes/s (sim venus --scale 50); target ${r.targets}`);
  console.log("via     rate/s  cpu %  rss MB  peak MB");
  for (const x of r.results) {
    console.log(
      `${x.via.padEnd(7)} ${String(x.rate).padStart(6)} ${String(x.cpuPercent).padStart(6)} ${
        String(x.rssMb).padStart(7)
      } ${String(x.peakRssMb).padStart(8)}`,
    );
  }
}
