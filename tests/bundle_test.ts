// The program is self-contained: one `deno bundle` of main.ts (every npm package inlined) runs from an empty
// directory with an empty DENO_DIR, no node_modules, no sources, no deno.json, no module downloads
// (--no-remote --no-npm), no network but loopback (--allow-net=127.0.0.1), and may read and write only its
// own working directory. A file read at run time, a dynamic import left unresolved or a native addon fails
// here, as it would in the `deno compile` binary (which cannot be built offline: it downloads denort).
//
// Why --code-splitting (a directory of chunks, not one file): with imports inlined, ink's optional
// `import("./devtools.js")` becomes a top-level static import of react-devtools-core, which is not
// installed; split, it stays a lazy chunk that is never loaded. x11 (dbus-next's optional X11 address
// lookup) is external for the same reason.

import assert from "node:assert/strict";
import { collectLines } from "./helpers/lines.ts";
import { freePort } from "./helpers/mosquitto.ts";
import { TEST_DATALOG as DATALOG, TEST_SERIAL as SERIAL } from "./helpers/inverter_sim.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const decoder = new TextDecoder();

Deno.test("the bundled program runs offline from an empty directory", async (t) => {
  const tmp = await Deno.makeTempDir({ prefix: "ess2mqtt-bundle-" });
  const dist = `${tmp}/dist`, run = `${tmp}/run`, denoDir = `${tmp}/deno_dir`;
  await Deno.mkdir(run);
  await Deno.mkdir(denoDir);
  const children: { stop(): Promise<void> }[] = [];

  const permissions = [
    "--no-remote",
    "--no-npm",
    "--no-config",
    "--no-prompt",
    "--allow-net=127.0.0.1",
    `--allow-read=${run}`,
    `--allow-write=${run}`,
    "--allow-env",
  ];
  const command = (args: string[]) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", ...permissions, `${dist}/main.js`, ...args],
      cwd: run,
      env: { DENO_DIR: denoDir, NO_COLOR: "1" },
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    });
  const once = async (args: string[]) => {
    const out = await command(args).output();
    return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
  };
  const spawn = (args: string[]) => {
    const child = command(args).spawn();
    const lines = collectLines([child.stdout, child.stderr], 15000);
    const handle = {
      waitFor: lines.waitFor,
      async stop() {
        try {
          child.kill("SIGTERM");
        } catch { /* gone */ }
        await child.status;
        await lines.done;
      },
    };
    children.push(handle);
    return handle;
  };

  try {
    await t.step("deno bundle main.ts (npm packages inlined)", async () => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "bundle",
          "--quiet",
          "--platform",
          "deno",
          "--code-splitting",
          "--external",
          "react-devtools-core",
          "--external",
          "x11",
          "--outdir",
          dist,
          "main.ts",
        ],
        cwd: ROOT,
        env: { NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(out.code, 0, decoder.decode(out.stderr));
      const files = [...Deno.readDirSync(dist)].map((e) => e.name);
      assert.ok(files.includes("main.js"), files.join(" "));
      await Deno.copyFile(`${ROOT}/config.example.ini`, `${run}/config.example.ini`);
    });

    await t.step("--version and --help", async () => {
      const v = await once(["--version"]);
      assert.equal(v.code, 0, v.stderr);
      assert.match(v.stdout, /^ess2mqtt \d+\.\d+\.\d+\S* \(commit \S+, deno \d+\.\d+\.\d+\)\n$/);
      const h = await once(["--help"]);
      assert.equal(h.code, 0, h.stderr);
      assert.match(h.stdout, /Usage: ess2mqtt/);
      for (const cmd of ["serve", "read-hold", "slot", "time", "lxp", "sim"]) {
        assert.match(h.stdout, new RegExp(`\\n  ${cmd}\\b`));
      }
    });

    await t.step("config check of the example", async () => {
      const c = await once(["-c", "config.example.ini", "config", "check"]);
      assert.equal(c.code, 0, c.stderr);
      assert.match(c.stdout, /\[lxp\]\nhost = 192\.168\.0\.50/);
    });

    const simPort = freePort();
    await t.step("sim inverter + one-shot read-hold against it", async () => {
      const sim = spawn([
        "sim",
        "inverter",
        "--port",
        String(simPort),
        "--interval",
        "0",
        "--datalog",
        DATALOG,
        "--serial",
        SERIAL,
      ]);
      await sim.waitFor((l) => l === `listening 127.0.0.1:${simPort}`);
      const r = await once([
        "--json",
        "read-hold",
        "64",
        "--count",
        "2",
        "--host",
        "127.0.0.1",
        "--port",
        String(simPort),
        "--datalog",
        DATALOG,
        "--serial",
        SERIAL,
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout).values, [100, 100]);
    });

    await t.step("serve with the embedded broker answers a command", async () => {
      const brokerPort = freePort();
      await Deno.writeTextFile(
        `${run}/serve.ini`,
        `[mqtt]\nlisten = 127.0.0.1:${brokerPort}\n[lxp]\nhost = 127.0.0.1\nport = ${simPort}\nserial = ${SERIAL}\ndatalog = ${DATALOG}\n`,
      );
      const serve = spawn(["-c", "serve.ini", "serve"]);
      await serve.waitFor((l) => l.includes("connected to dongle"));
      const r = await once(["-c", "serve.ini", "set", "discharge_pct", "40", "--via", "mqtt"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "discharge_pct = 40: OK (hold 65, echo 40)\n");
    });
  } finally {
    for (const c of children.reverse()) await c.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});
