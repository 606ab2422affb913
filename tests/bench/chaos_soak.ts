// Chaos soak: the real `serve` (deno run -A main.ts serve) between the inverter simulator (in this process, so
// its own write log is the ground truth) and a real mosquitto, under a random fault schedule: dropped
// connections, garbage, bad CRCs, truncated replies, delays beyond the request timeout, exception replies,
// silent periods, dropped and garbled echoes, lost requests, and broker restarts.
//
//   deno run -A tests/bench/chaos_soak.ts [--commands N] [--rate R] [--seed S] [--minutes M]
//   deno task bench chaos
//
// Commands: most are set_hold/<190…199> with a value used only once in the run (pipelined, up to `window`
// in flight); the register-21 switches and the percentage commands run one at a time (nothing else in
// flight), so every write the simulator logged between sending one and receiving its result is its own;
// reads in between. The checker counts, from the simulator's write log and the results:
//   results      each command's result arrives exactly once (per result topic, in order)
//   false OK     OK while the register does not hold the value (set_hold: no executed write of that unique
//                value; switches/percentages: the bit/register differs when the result arrives)
//   doubled      a command's write executed more than once
//   lost         no result by the end
//   crashes      serve exited on its own, or logged an uncaught error
// and prints serve's RSS when ready, after warm-up and at the end. Targets (over 10,000 commands):
// 0 lost, 0 doubled, 0 false OK, 0 crashes, RSS growth < 10 MB.

import { InverterSimulator, prng, type SimFaults } from "../../src/sim/inverter.ts";
import { MqttLink } from "../../src/mqtt/client.ts";
import { silentLogger } from "../../src/log.ts";
import { startMosquitto } from "../helpers/mosquitto.ts";
import { collectLines } from "../helpers/lines.ts";
import { rssMb } from "./proc_stats.ts";

export interface ChaosOptions {
  commands: number;
  /** Commands sent per second at most. */
  rate?: number;
  /** Stop sending after this many seconds even if fewer commands were sent. */
  maxSeconds?: number;
  seed?: number;
  /** Pipelined commands in flight at most. */
  window?: number;
  /** [lxp] command_timeout in seconds (the request timeout is half of it). */
  commandTimeout?: number;
  /** Restart the broker about every this many seconds (0 = never). */
  brokerRestartEveryS?: number;
  /** Progress lines to stderr. */
  verbose?: boolean;
}

export interface ChaosReport {
  commands_sent: number;
  results_received: number;
  results_duplicated: number;
  ok: number;
  fail: number;
  false_ok: number;
  writes_doubled: number;
  commands_lost: number;
  crashes: number;
  read_back_confirmations: number;
  fault_phases: number;
  broker_restarts: number;
  sim_writes_executed: number;
  rss_ready_mb: number;
  rss_warm_mb: number;
  rss_end_mb: number;
  rss_growth_mb: number;
  seconds: number;
  false_ok_examples: string[];
}

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const DENO_JSON = new URL("../../deno.json", import.meta.url).pathname;
const SCRATCH = 190; // set_hold targets 190…199: unused by the simulator's physics
const BITS: Record<string, number> = { ac_charge: 7, forced_discharge: 10, charge_priority: 11 };
const PCTS: Record<string, number> = { charge_pct: 64, discharge_pct: 65, charge_amount_pct: 67 };

interface Cmd {
  i: number;
  topic: string; // result topic suffix
  payload: string;
  kind: "unique" | "bit" | "pct" | "read";
  register?: number;
  value?: number;
  bit?: number;
  on?: boolean;
  solo: boolean;
  logFrom: number;
  logTo?: number;
  result?: string;
  holdAtResult?: number;
  results: number;
}

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function runChaosSoak(o: ChaosOptions): Promise<ChaosReport> {
  const t0 = performance.now();
  const rand = prng(o.seed ?? 1);
  const pick = <T>(a: T[]) => a[Math.floor(rand() * a.length)];
  const log = (s: string) =>
    o.verbose && console.error(`[chaos ${((performance.now() - t0) / 1000).toFixed(0)}s] ${s}`);
  const window = o.window ?? 6;
  const rate = o.rate ?? 30;
  const commandTimeout = o.commandTimeout ?? 3;

  const sim = new InverterSimulator({
    port: 0,
    interval: 7,
    heartbeatInterval: 11,
    seed: o.seed ?? 1,
    datalog: "BA12345678",
    serial: "0123456789",
  }, silentLogger);
  const simPort = (await sim.start()).port;
  const mosq = await startMosquitto();
  const dir = await Deno.makeTempDir({ prefix: "ess2mqtt-chaos-" });
  const cfgPath = `${dir}/config.ini`;
  await Deno.writeTextFile(
    cfgPath,
    `[mqtt]\nuri = ${mosq.url}\n[lxp]\nhost = 127.0.0.1\nport = ${simPort}\nserial = ${sim.serial}\n` +
      `datalog = ${sim.datalog}\ncommand_timeout = ${commandTimeout}\nsilence_timeout = 4\nconnect_timeout = 2\n`,
  );

  // serve, as a user runs it
  let crashes = 0;
  let stopping = false;
  let serveLines: string[] = [];
  let confirmations = 0;
  let child!: Deno.ChildProcess;
  let exited!: Promise<void>;
  let serveExited = false;
  const spawnServe = () => {
    child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", "--config", DENO_JSON, MAIN, "-c", cfgPath, "serve"],
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const lines = collectLines([child.stdout, child.stderr], 30000);
    serveLines = lines.lines;
    const c = child;
    serveExited = false;
    exited = c.status.then((s) => {
      serveExited = true;
      if (!stopping) {
        crashes++;
        log(`serve exited on its own (code ${s.code}):\n${serveLines.slice(-20).join("\n")}`);
      }
    });
    return lines;
  };
  let lines = spawnServe();
  await lines.waitFor((l) => l.includes("serving"));
  const countLines = () => {
    // keep memory flat over long runs: fold the lines into counters
    for (const l of serveLines.splice(0)) {
      if (l.includes("write confirmed by read-back")) confirmations++;
      if (/crashed|Uncaught|uncaught|threw/.test(l)) {
        crashes++;
        log(`serve logged: ${l}`);
      }
    }
  };

  // the driver's MQTT client
  const link = new MqttLink(
    { uri: mosq.url, clientId: "chaos-driver", reconnectPeriodMs: 200 },
    silentLogger,
  );
  await link.start();
  const outstanding = new Map<string, Cmd[]>();
  const all: Cmd[] = [];
  let inFlight = 0;
  let duplicated = 0;
  let statusOnlineAt = 0;
  const onResult = (topic: string, payload: string) => {
    const q = outstanding.get(topic);
    const c = q?.shift();
    if (!c) {
      duplicated++;
      log(`result without a command: ${topic} ${payload}`);
      return;
    }
    c.results++;
    c.result = payload;
    c.logTo = sim.writeLog.length;
    if (c.kind === "bit" || c.kind === "pct") c.holdAtResult = sim.holdings[c.register!];
    inFlight--;
    resultWaiters.splice(0).forEach((w) => w());
  };
  const resultWaiters: (() => void)[] = [];
  /** Resolves at the next result, or after `ms`. */
  const resultOr = (ms: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        const k = resultWaiters.indexOf(done);
        if (k >= 0) resultWaiters.splice(k, 1);
        resolve();
      };
      const timer = setTimeout(done, ms);
      resultWaiters.push(done);
    });
  await link.subscribeAsync("octolux/result/#", (m) => {
    onResult(m.topic.slice("octolux/result/".length), new TextDecoder().decode(m.payload));
  });
  await link.subscribeAsync("octolux/status", (m) => {
    if (new TextDecoder().decode(m.payload) !== "offline") statusOnlineAt = performance.now();
  });

  const rssReady = rssMb(child.pid).rss;
  let rssWarm = 0;

  // fault schedule
  let phases = 0;
  const clean: SimFaults = {
    dropProbability: 0,
    chunk: false,
    garbageProbability: 0,
    badCrcProbability: 0,
    delayMs: 0,
    exceptionRegisters: [],
    silent: false,
    corruptEcho: false,
    skipRequests: 0,
    corruptEchoProbability: 0,
    dropEchoProbability: 0,
    truncateBeforeReplyProbability: 0,
  };
  const faultMenu: (() => SimFaults)[] = [
    () => ({}),
    () => ({}),
    () => ({ garbageProbability: 0.3, badCrcProbability: 0.3, chunk: true }),
    () => ({ truncateBeforeReplyProbability: 0.5 }),
    () => ({ delayMs: 100 + Math.floor(rand() * 2400) }), // often beyond the request timeout
    () => ({ exceptionRegisters: [SCRATCH + Math.floor(rand() * 10), 65], exceptionCode: pick([3, 4, 6]) }),
    () => ({ silent: true }),
    () => ({ dropProbability: 0.1 }),
    () => ({ dropEchoProbability: 0.4 }),
    () => ({ corruptEchoProbability: 0.4 }),
    () => ({ skipRequests: 1 + Math.floor(rand() * 2) }),
  ];
  let faultTimer: ReturnType<typeof setTimeout> | undefined;
  const nextPhase = () => {
    phases++;
    const f: SimFaults = { ...clean };
    const n = 1 + Math.floor(rand() * 2);
    for (let k = 0; k < n; k++) Object.assign(f, pick(faultMenu)());
    if (rand() < 0.08) sim.dropAll();
    sim.setFaults(f);
    const ms = f.silent ? 500 + rand() * 2500 : 500 + rand() * 3500;
    faultTimer = setTimeout(nextPhase, ms);
  };
  nextPhase();

  // the commands
  const send = async (c: Cmd) => {
    const q = outstanding.get(c.topic) ?? [];
    q.push(c);
    outstanding.set(c.topic, q);
    all.push(c);
    inFlight++;
    c.logFrom = sim.writeLog.length;
    for (;;) {
      try {
        await link.publishAsync(`octolux/cmd/${c.topic}`, c.payload, { qos: 1 });
        return;
      } catch {
        await delay(100); // driver link down (broker restart): publish again
      }
    }
  };
  const waitIdle = async (ms: number) => {
    const deadline = Date.now() + ms;
    while (inFlight > 0 && Date.now() < deadline) {
      await resultOr(200);
    }
  };
  let restarts = 0;
  let nextRestart = (o.brokerRestartEveryS ?? 60) * 1000;
  const maxMs = (o.maxSeconds ?? Infinity) * 1000;
  const gap = 1000 / rate;
  let next = performance.now();
  for (let i = 0; i < o.commands && performance.now() - t0 < maxMs; i++) {
    if (serveExited) {
      // serve died: start it again so the run goes on (its commands in flight are lost and counted)
      lines = spawnServe();
      await lines.waitFor((l) => l.includes("serving"));
    }
    if (nextRestart > 0 && performance.now() - t0 > nextRestart) {
      // a broker restart, with no command in flight (MQTT itself does not carry a QoS-1 message across the
      // restart of a broker without persistence; that is not what this measures)
      await waitIdle(commandTimeout * 3000);
      const before = statusOnlineAt;
      await mosq.restart();
      restarts++;
      log(`broker restarted (${restarts})`);
      const deadline = Date.now() + 30000;
      while ((statusOnlineAt === before || !link.connected) && Date.now() < deadline) await delay(50);
      nextRestart = performance.now() - t0 + (o.brokerRestartEveryS ?? 60) * 1000 * (0.5 + rand());
    }
    const roll = rand();
    let c: Cmd;
    const base = { i, solo: false, logFrom: 0, results: 0 };
    if (roll < 0.7) {
      const register = SCRATCH + (i % 10);
      const value = (i + 1) & 0xffff;
      c = { ...base, kind: "unique", topic: `set_hold/${register}`, payload: String(value), register, value };
    } else if (roll < 0.8) {
      const name = pick(Object.keys(BITS));
      const on = rand() < 0.5;
      c = {
        ...base,
        kind: "bit",
        topic: name,
        payload: on ? "on" : "off",
        register: 21,
        bit: BITS[name],
        on,
        solo: true,
      };
    } else if (roll < 0.9) {
      const name = pick(Object.keys(PCTS));
      const value = Math.floor(rand() * 101);
      c = {
        ...base,
        kind: "pct",
        topic: name,
        payload: String(value),
        register: PCTS[name],
        value,
        solo: true,
      };
    } else {
      c = rand() < 0.5
        ? { ...base, kind: "read", topic: "read_hold", payload: `${SCRATCH},3` }
        : { ...base, kind: "read", topic: "read_input", payload: String(1 + Math.floor(rand() * 4)) };
    }
    if (c.solo) await waitIdle(commandTimeout * 3000);
    while (inFlight >= window) await resultOr(200);
    const wait = next - performance.now();
    if (wait > 0) await delay(wait);
    next = Math.max(next + gap, performance.now() - 1000);
    await send(c);
    if (c.solo) await waitIdle(commandTimeout * 3000);
    if (i === Math.min(500, Math.floor(o.commands / 10))) rssWarm = rssMb(child.pid).rss;
    if (i % 200 === 0) {
      countLines();
      log(`${i} sent, ${inFlight} in flight, rss ${rssMb(child.pid).rss.toFixed(1)} MB`);
    }
  }
  clearTimeout(faultTimer);
  sim.setFaults(clean);
  await waitIdle(commandTimeout * 4000);
  countLines();
  const rssEnd = rssMb(child.pid).rss;
  if (!rssWarm) rssWarm = rssReady;

  // check
  let falseOk = 0, doubled = 0, lost = 0, ok = 0, fail = 0, received = 0;
  const examples: string[] = [];
  const byValue = new Map<string, number[]>();
  sim.writeLog.forEach((w, k) => {
    const key = `${w.register}:${w.value}`;
    const l = byValue.get(key);
    if (l) l.push(k);
    else byValue.set(key, [k]);
  });
  for (const c of all) {
    if (c.results === 0) {
      lost++;
      continue;
    }
    received += c.results;
    if (c.result === "OK") ok++;
    else fail++;
    if (c.kind === "unique") {
      const entries = (byValue.get(`${c.register}:${c.value}`) ?? []).map((k) => sim.writeLog[k]);
      const executed = entries.filter((w) => w.executed).length;
      if (entries.length > 1) doubled++;
      if (c.result === "OK" && executed === 0) {
        falseOk++;
        examples.push(`${c.topic}=${c.payload}: OK but never executed`);
      }
    } else if (c.kind === "bit" || c.kind === "pct") {
      const window = sim.writeLog.slice(c.logFrom, c.logTo).filter((w) => w.register === c.register);
      if (window.length > 1) doubled++;
      const holds = c.kind === "bit"
        ? (((c.holdAtResult! >> c.bit!) & 1) === 1) === c.on
        : c.holdAtResult === c.value;
      if (c.result === "OK" && !holds) {
        falseOk++;
        examples.push(`${c.topic}=${c.payload}: OK but register ${c.register} = ${c.holdAtResult}`);
      }
    }
  }

  stopping = true;
  await link.stop();
  try {
    child.kill("SIGTERM");
  } catch { /* gone */ }
  await exited;
  await sim.stop();
  await mosq.stop();
  await Deno.remove(dir, { recursive: true }).catch(() => {});

  return {
    commands_sent: all.length,
    results_received: received + duplicated,
    results_duplicated: duplicated,
    ok,
    fail,
    false_ok: falseOk,
    writes_doubled: doubled,
    commands_lost: lost,
    crashes,
    read_back_confirmations: confirmations,
    fault_phases: phases,
    broker_restarts: restarts,
    sim_writes_executed: sim.writeLog.filter((w) => w.executed).length,
    rss_ready_mb: +rssReady.toFixed(1),
    rss_warm_mb: +rssWarm.toFixed(1),
    rss_end_mb: +rssEnd.toFixed(1),
    rss_growth_mb: +(rssEnd - rssWarm).toFixed(1),
    seconds: +((performance.now() - t0) / 1000).toFixed(1),
    false_ok_examples: examples.slice(0, 5),
  };
}

if (import.meta.main) {
  const arg = (name: string, def: number) => {
    const i = Deno.args.indexOf(`--${name}`);
    return i >= 0 ? Number(Deno.args[i + 1]) : def;
  };
  const r = await runChaosSoak({
    commands: arg("commands", 10000),
    rate: arg("rate", 30),
    seed: arg("seed", 1),
    maxSeconds: arg("minutes", 10) * 60,
    brokerRestartEveryS: arg("restart-every", 60),
    verbose: true,
  });
  console.log(JSON.stringify(r, null, 1));
}
