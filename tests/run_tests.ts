// `deno task test`: makes sure the Debian packages the integration tests drive are present (installing them
// with apt-get when running as root), type-checks, runs the whole suite with sanitizers on, and ends with
// one plain line "N passed, N failed".

const NEEDED: Record<string, string> = {
  mosquitto: "mosquitto",
  mosquitto_pub: "mosquitto-clients",
  mosquitto_sub: "mosquitto-clients",
  "dbus-daemon": "dbus-daemon",
  "dbus-send": "dbus-bin",
  openssl: "openssl",
  tmux: "tmux",
};

async function which(cmd: string): Promise<boolean> {
  const out = await new Deno.Command("sh", {
    args: ["-c", `command -v ${cmd} || test -x /usr/sbin/${cmd}`],
    stdout: "null",
    stderr: "null",
  })
    .output();
  return out.success;
}

async function run(
  cmd: string,
  args: string[],
  env?: Record<string, string>,
): Promise<{ code: number; output: string }> {
  const child = new Deno.Command(cmd, { args, stdout: "piped", stderr: "inherit", env }).spawn();
  let output = "";
  const dec = new TextDecoder();
  for await (const chunk of child.stdout) {
    const text = dec.decode(chunk, { stream: true });
    output += text;
    await Deno.stdout.write(chunk);
  }
  const { code } = await child.status;
  return { code, output };
}

const missing: string[] = [];
for (const [cmd, pkg] of Object.entries(NEEDED)) {
  if (!(await which(cmd)) && !missing.includes(pkg)) missing.push(pkg);
}
if (missing.length) {
  const isRoot = Deno.uid?.() === 0;
  if (!isRoot) {
    console.error(
      `The integration tests need these Debian packages: ${missing.join(" ")}\n` +
        `Install them with: sudo apt-get install -y ${missing.join(" ")}`,
    );
    console.log("0 passed, 1 failed");
    Deno.exit(1);
  }
  console.error(`installing ${missing.join(" ")} with apt-get …`);
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  await run("apt-get", ["update", "-qq"], env);
  const r = await run("apt-get", ["install", "-y", "-qq", ...missing], env);
  if (r.code !== 0) {
    console.error(`apt-get install ${missing.join(" ")} failed`);
    console.log("0 passed, 1 failed");
    Deno.exit(1);
  }
}

const deno = Deno.execPath();
const env = { NO_COLOR: "1" };
// Type check, lint and formatting come first: each failure names its files, and the suite does not run.
for (
  const [what, args] of [
    ["type check", ["check", "main.ts", "src/", "tests/"]],
    ["deno lint", ["lint"]],
    ["deno fmt --check", ["fmt", "--check"]],
  ] as const
) {
  const r = await run(deno, [...args], env);
  if (r.code !== 0) {
    console.error(`${what} failed`);
    console.log("0 passed, 1 failed");
    Deno.exit(1);
  }
}

const extra = Deno.args;
const test = await run(
  deno,
  ["test", "-A", "--sanitize-ops", "--sanitize-resources", ...extra, "tests/"],
  env,
);
// deno's summary: "ok | 57 passed (3 steps) | 0 failed (12s)" or "FAILED | 50 passed | 2 failed (…)"
const m = /(\d+) passed(?: \((\d+) steps?\))? \| (\d+) failed(?: \((\d+) steps?\))?/.exec(
  test.output.split("\n").reverse().join("\n"),
);
const passed = m ? Number(m[1]) : 0;
const failed = m ? Number(m[3]) : 1;
console.log(`${passed} passed, ${failed} failed`);
Deno.exit(test.code === 0 && m ? 0 : 1);
