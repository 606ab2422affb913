// Benchmark helper process for wakeup_floor_bench.ts: the least a Deno program can do per message — read
// from one TCP socket, write the bytes to another — with node:net (what the bridges use, through mqtt.js and
// dbus-next) or with Deno's own sockets. Args: node|deno <listen port> <sink port>. Prints "ready" on stdout.
import net from "node:net";

const [kind, listenPort, sinkPort] = [Deno.args[0], Number(Deno.args[1]), Number(Deno.args[2])];
if (kind === "node") {
  const out = net.createConnection(sinkPort, "127.0.0.1");
  out.setNoDelay(true);
  net.createServer((s) => {
    s.setNoDelay(true);
    s.on("data", (chunk) => out.write(chunk));
  }).listen(listenPort, "127.0.0.1", () => console.log("ready"));
} else {
  const out = await Deno.connect({ hostname: "127.0.0.1", port: sinkPort });
  out.setNoDelay(true);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: listenPort });
  console.log("ready");
  for await (const s of listener) {
    s.setNoDelay(true);
    const buf = new Uint8Array(65536);
    for (let n = await s.read(buf); n !== null; n = await s.read(buf)) await out.write(buf.subarray(0, n));
  }
}
