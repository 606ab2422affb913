// Summarises a V8 .cpuprofile: self time by function (and by file), top N.
// Run: deno run -R tests/bench/cpuprofile_summary.ts FILE.cpuprofile [--top 30]

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export function summarise(p: Profile, top = 30): string {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i + 1] ?? 0;
    self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + dt);
  }
  const total = (p.endTime - p.startTime) / 1000;
  const fn = new Map<string, number>();
  const file = new Map<string, number>();
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const url = n.callFrame.url.replace(/^.*\/(node_modules|\.deno)\/.*?\/(node_modules\/)?/, "npm:").replace(
      /^file:\/\/.*\/work\/main\//,
      "",
    );
    const k = `${n.callFrame.functionName || "(anonymous)"}  ${url}:${n.callFrame.lineNumber + 1}`;
    fn.set(k, (fn.get(k) ?? 0) + us / 1000);
    const f = url || n.callFrame.functionName;
    file.set(f, (file.get(f) ?? 0) + us / 1000);
  }
  const fmt = (m: Map<string, number>) =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, ms]) => `${ms.toFixed(1).padStart(9)} ms  ${k}`)
      .join("\n");
  return `profile ${total.toFixed(0)} ms wall\n-- self time by function\n${fmt(fn)}\n-- self time by file\n${
    fmt(file)
  }`;
}

if (import.meta.main) {
  const i = Deno.args.indexOf("--top");
  const top = i >= 0 ? Number(Deno.args[i + 1]) : 30;
  console.log(summarise(JSON.parse(Deno.readTextFileSync(Deno.args[0])), top));
}
