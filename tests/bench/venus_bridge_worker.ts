// Benchmark helper process: MqttLink + VenusBridge only (and the embedded broker with "embedded"), so its
// CPU time and RSS can be read from /proc.
// stdin takes JSON lines: {"cmd":"prof-start"} / {"cmd":"prof-stop","file":"…"} (V8 CPU profile of the
// window between them, through node:inspector; answers {"ok":true}). The process exits when stdin closes.
import { Session } from "node:inspector";
import { silentLogger } from "../../src/log.ts";
import { MqttLink } from "../../src/mqtt/client.ts";
import { VenusBridge } from "../../src/bridges/venus_bridge.ts";
import { EmbeddedBroker } from "../../src/mqtt/broker.ts";
import { commands, reply } from "./worker_io.ts";

// brokerUrl "embedded": this process runs the embedded broker too, as `serve` does without [mqtt] uri.
const [address, brokerUrl, portal] = Deno.args;
const embedded = brokerUrl === "embedded"
  ? new EmbeddedBroker({ host: "127.0.0.1", port: 0 }, silentLogger)
  : undefined;
const uri = embedded ? (await embedded.start()).url : brokerUrl;
embedded?.retainAsPublished("venus_bench_bridge");
const mqtt = new MqttLink({ uri, clientId: "venus_bench_bridge" }, silentLogger);
await mqtt.start();
const bridge = new VenusBridge({
  config: { address, portal_id: portal, keepalive: 600, read_only: false },
  mqtt,
  logger: silentLogger,
});
await bridge.start();
reply({ ready: true, services: bridge.stats.services, items: bridge.stats.items, port: embedded?.port });

let session: Session | undefined;
const post = (method: string, params?: object) =>
  new Promise<any>((resolve, reject) =>
    session!.post(method, params ?? {}, (err: Error | null, r: unknown) => (err ? reject(err) : resolve(r)))
  );
for await (const cmd of commands()) {
  if (cmd.cmd === "prof-start") {
    session ??= new Session();
    session.connect();
    await post("Profiler.enable");
    await post("Profiler.setSamplingInterval", { interval: 100 });
    await post("Profiler.start");
    reply({ ok: true });
  } else if (cmd.cmd === "prof-stop" && session) {
    const r = await post("Profiler.stop");
    Deno.writeTextFileSync(cmd.file, JSON.stringify(r.profile));
    await post("Profiler.disable");
    session.disconnect();
    reply({ ok: true });
  }
}
await bridge.stop();
await mqtt.stop();
await embedded?.stop();
Deno.exit(0);
