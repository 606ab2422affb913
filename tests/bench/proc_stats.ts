// What the benchmarks read of a process from /proc (Linux): CPU seconds, per thread, context switches, RSS.

const CLK_TCK = 100;
export function cpuSeconds(pid: number): number {
  const t = cpuTimes(pid);
  return t.user + t.sys;
}
export function cpuTimes(pid: number): { user: number; sys: number } {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { user: Number(f[11]) / CLK_TCK, sys: Number(f[12]) / CLK_TCK }; // utime, stime
}
/** CPU seconds by thread name (threads of one name summed; only live threads). */
export function threadCpu(pid: number): Map<string, number> {
  const m = new Map<string, number>();
  for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
    try {
      const stat = Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/stat`);
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")).replace(/[0-9]+$/, "#");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      m.set(name, (m.get(name) ?? 0) + (Number(f[11]) + Number(f[12])) / CLK_TCK);
    } catch { /* thread gone */ }
  }
  return m;
}
export function threadDelta(a: Map<string, number>, b: Map<string, number>): Record<string, number> {
  const o: Record<string, number> = {};
  for (const [k, v] of b) if (v - (a.get(k) ?? 0) > 0) o[k] = +(v - (a.get(k) ?? 0)).toFixed(2);
  return o;
}

/** Voluntary + involuntary context switches of each live thread of the process, by thread id. */
export function threadSwitches(pid: number): Map<string, number> {
  const m = new Map<string, number>();
  for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
    try {
      const s = Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/status`);
      m.set(
        t.name,
        Number(/\nvoluntary_ctxt_switches:\s+(\d+)/.exec(s)?.[1] ?? 0) +
          Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(s)?.[1] ?? 0),
      );
    } catch { /* thread gone */ }
  }
  return m;
}

/** Voluntary + involuntary context switches of every live thread of the process. */
export function switches(pid: number): number {
  let n = 0;
  for (const v of threadSwitches(pid).values()) n += v;
  return n;
}

/**
 * Context switches of a process over a window, counting threads that exit during it: a per-thread sum
 * loses an exited thread's count (the figure could come out negative), so the counter samples every
 * thread every `pollMs` and keeps the last count seen of each. Switches of a thread between its last
 * sample and its exit are not counted (at most one poll interval's worth).
 */
export class SwitchCounter {
  private readonly start: Map<string, number>;
  private readonly last: Map<string, number>;
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(private readonly pid: number, pollMs = 50) {
    this.start = threadSwitches(pid);
    this.last = new Map(this.start);
    this.timer = setInterval(() => this.sample(), pollMs);
  }

  private sample(): void {
    try {
      for (const [tid, n] of threadSwitches(this.pid)) this.last.set(tid, n);
    } catch { /* process gone */ }
  }

  /** Ends the window: switches of all threads during it (≥ 0) and the threads that exited. */
  stop(): { switches: number; exitedThreads: number } {
    clearInterval(this.timer);
    this.sample();
    let live: Set<string>;
    try {
      live = new Set(Array.from(Deno.readDirSync(`/proc/${this.pid}/task`), (t) => t.name));
    } catch {
      live = new Set();
    }
    let n = 0, exited = 0;
    for (const [tid, v] of this.last) {
      n += v - (this.start.get(tid) ?? 0);
      if (!live.has(tid)) exited++;
    }
    return { switches: n, exitedThreads: exited };
  }
}

export function rssMb(pid: number): { rss: number; hwm: number } {
  const s = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? 0);
  return { rss: kb("VmRSS") / 1024, hwm: kb("VmHWM") / 1024 };
}
