// A private dbus-daemon: its own config (session type, everything allowed, generous limits), a socket in a
// temp dir, stopped by its owner. Used by `sim venus` without --bus, the demo, the tests and benchmarks.

/** A free loopback TCP port (for tcp: listening). */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

export interface DbusDaemon {
  /** The address printed by the daemon (unix:path=…,guid=…), or tcp:host=127.0.0.1,port=… */
  address: string;
  /** Kill and start again on the same address (bus-restart tests). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface DbusDaemonOptions {
  /** Listen on loopback TCP with ANONYMOUS auth instead of a unix socket. */
  tcp?: boolean;
  /** Listen on a Linux abstract unix socket (unix:abstract=…). */
  abstract?: boolean;
}

function config(listen: string, tcp: boolean): string {
  return `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>${listen}</listen>
  ${tcp ? "<auth>ANONYMOUS</auth><allow_anonymous/>" : "<auth>EXTERNAL</auth>"}
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
  <limit name="max_incoming_bytes">1000000000</limit>
  <limit name="max_outgoing_bytes">1000000000</limit>
  <limit name="max_message_size">100000000</limit>
  <limit name="max_replies_per_connection">50000</limit>
  <limit name="max_match_rules_per_connection">50000</limit>
  <limit name="max_names_per_connection">50000</limit>
  <limit name="max_connections_per_user">100000</limit>
  <limit name="max_completed_connections">100000</limit>
  <limit name="max_incomplete_connections">10000</limit>
</busconfig>
`;
}

async function readFirstLine(stream: ReadableStream<Uint8Array>, timeoutMs: number): Promise<string> {
  const reader = stream.getReader();
  const dec = new TextDecoder();
  let buf = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`dbus-daemon printed no address within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    while (!buf.includes("\n")) {
      const r = await Promise.race([reader.read(), timeout]);
      if (r.done) {
        throw new Error(`dbus-daemon exited before printing its address (got ${JSON.stringify(buf)})`);
      }
      buf += dec.decode(r.value, { stream: true });
    }
    return buf.slice(0, buf.indexOf("\n")).trim();
  } finally {
    clearTimeout(timer);
    await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

export async function startDbusDaemon(opts: DbusDaemonOptions = {}): Promise<DbusDaemon> {
  const dir = await Deno.makeTempDir({ prefix: "ess2mqtt-dbus-" });
  const tcp = opts.tcp ?? false;
  const port = tcp ? freePort() : 0;
  const listen = tcp
    ? `tcp:host=127.0.0.1,port=${port}`
    : opts.abstract
    ? `unix:abstract=${dir}/abstract-bus`
    : `unix:path=${dir}/bus`;
  const confPath = `${dir}/bus.conf`;
  await Deno.writeTextFile(confPath, config(listen, tcp));
  let child: Deno.ChildProcess | undefined;
  let address = "";

  const launch = async () => {
    child = new Deno.Command("dbus-daemon", {
      args: [`--config-file=${confPath}`, "--nofork", "--print-address=1", "--nopidfile"],
      stdout: "piped",
      stderr: "null",
      stdin: "null",
    }).spawn();
    try {
      address = await readFirstLine(child.stdout, 5000);
    } catch (err) {
      await kill();
      throw err;
    }
  };
  const kill = async () => {
    const c = child;
    if (!c) return;
    child = undefined;
    try {
      c.kill("SIGTERM");
    } catch { /* already gone */ }
    await c.status;
  };

  try {
    await launch();
  } catch (err) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw err;
  }
  return {
    get address() {
      return address;
    },
    restart: async () => {
      await kill();
      await Deno.remove(`${dir}/bus`).catch(() => {});
      await launch();
    },
    stop: async () => {
      await kill();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
