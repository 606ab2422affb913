// `ess2mqtt completions bash|zsh|fish`: the scripts come from the command tree; the bash one is run in a
// real bash to check what it completes.

import assert from "node:assert/strict";
import { runCli } from "./helpers/cli.ts";

async function bashComplete(script: string, words: string[]): Promise<string[]> {
  const line = words.map((w) => `'${w}'`).join(" ");
  const program = `${script}\nCOMP_WORDS=(${line}); COMP_CWORD=${words.length - 1}; _ess2mqtt_complete; ` +
    `printf '%s\\n' "\${COMPREPLY[@]}"`;
  const out = await new Deno.Command("bash", { args: ["-c", program], stdout: "piped", stderr: "piped" })
    .output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).split("\n").filter((l) => l !== "").sort();
}

Deno.test("completions bash completes commands, subcommands and options", async () => {
  const r = await runCli(["completions", "bash"]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await bashComplete(r.stdout, ["ess2mqtt", "read-h"]), ["read-hold"]);
  assert.deepEqual(await bashComplete(r.stdout, ["ess2mqtt", "sim", "inv"]), ["inverter"]);
  assert.deepEqual(await bashComplete(r.stdout, ["ess2mqtt", "read-hold", "21", "--ti"]), ["--timeout"]);
  assert.deepEqual(await bashComplete(r.stdout, ["ess2mqtt", "-c", "x.ini", "set", "--js"]), ["--json"]);
});

Deno.test("completions zsh and fish name every top-level command; a bad shell exits 2", async () => {
  for (const shell of ["zsh", "fish"]) {
    const r = await runCli(["completions", shell]);
    assert.equal(r.code, 0, r.stderr);
    for (const cmd of ["serve", "read-hold", "write-hold", "set", "tui", "demo", "completions"]) {
      assert.ok(r.stdout.includes(cmd), `${shell}: ${cmd}`);
    }
  }
  const bad = await runCli(["completions", "tcsh"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /shell must be one of bash, zsh, fish \(got "tcsh"\)/);
});
