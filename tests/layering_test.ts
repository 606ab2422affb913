// The house rules, checked on the source itself: files import downwards only (nothing below src/cli/
// imports the CLI or the TUI; nothing but main.ts imports src/cli/), src/cli/ has no import circle, and
// the pure modules touch no Deno API, timer or logger.

import assert from "node:assert/strict";

const SRC = new URL("../src/", import.meta.url);

async function sourceFiles(dir: URL, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isDirectory) out.push(...await sourceFiles(new URL(`${e.name}/`, dir), `${prefix}${e.name}/`));
    else if (/\.tsx?$/.test(e.name)) out.push(`${prefix}${e.name}`);
  }
  return out.sort();
}

/** Relative imports of a file (static, type-only and dynamic), resolved to paths below src/. */
function importsOf(file: string, text: string): string[] {
  const specs = [
    ...text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s*["']([^"']+)["']/gms),
    ...text.matchAll(/^\s*import\s*["']([^"']+)["']/gm),
    ...text.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g),
  ].map((m) => m[1]).filter((s) => s.startsWith("."));
  return specs.map((s) => new URL(s, new URL(file, SRC)).pathname.slice(SRC.pathname.length));
}

const files = await sourceFiles(SRC);
const graph = new Map<string, string[]>();
for (const f of files) graph.set(f, importsOf(f, await Deno.readTextFile(new URL(f, SRC))));

Deno.test("layering: nothing under lxp/ venus/ mqtt/ bridges/ sim/ imports cli/ or tui/", () => {
  const bad = [...graph].flatMap(([f, deps]) =>
    /^(lxp|venus|mqtt|bridges|sim)\//.test(f)
      ? deps.filter((d) => /^(cli|tui)\//.test(d)).map((d) => `${f} → ${d}`)
      : []
  );
  assert.deepEqual(bad, []);
});

Deno.test("layering: only main.ts imports src/cli/ from outside it", () => {
  const bad = [...graph].flatMap(([f, deps]) =>
    f.startsWith("cli/") ? [] : deps.filter((d) => d.startsWith("cli/")).map((d) => `${f} → ${d}`)
  );
  assert.deepEqual(bad, []);
});

Deno.test("layering: src/cli/ has no import circle", () => {
  const cycles: string[] = [];
  const state = new Map<string, "open" | "done">();
  const visit = (f: string, path: string[]) => {
    if (state.get(f) === "done") return;
    if (state.get(f) === "open") {
      cycles.push([...path.slice(path.indexOf(f)), f].join(" → "));
      return;
    }
    state.set(f, "open");
    for (const d of graph.get(f) ?? []) if (d.startsWith("cli/")) visit(d, [...path, f]);
    state.set(f, "done");
  };
  for (const f of graph.keys()) if (f.startsWith("cli/")) visit(f, []);
  assert.deepEqual(cycles, []);
});

Deno.test("pure modules use no Deno API, timer or logger", async () => {
  const pure = files;
  const offenders: string[] = [];
  for (const f of pure) {
    const text = await Deno.readTextFile(new URL(f, SRC));
    if (!/^\/\/ PURE\b/m.test(text)) continue;
    for (
      const [what, re] of [["Deno API", /\bDeno\./], ["timer", /\bset(Timeout|Interval)\((?!\s*\w+\s*:)/], [
        "logger",
        /\bLogger\b/,
      ]] as const
    ) {
      if (re.test(text.replace(/^\s*\/\/.*$/gm, ""))) offenders.push(`${f}: ${what}`);
    }
  }
  assert.deepEqual(offenders, []);
  // the modules the design names as pure say so
  for (
    const f of [
      "lxp/frame.ts",
      "lxp/registers.ts",
      "lxp/inputs.ts",
      "lxp/commands.ts",
      "lxp/describe.ts",
      "lxp/slots.ts",
      "mqtt/address.ts",
      "mqtt/topic.ts",
    ]
  ) {
    assert.match(await Deno.readTextFile(new URL(f, SRC)), /^\/\/ PURE\b/m, f);
  }
});
