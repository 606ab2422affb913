// Benchmark helper process: MqttLink + VenusBridge only, so its CPU time and RSS can be read from /proc.
import { silentLogger } from "../../src/log.ts";
import { MqttLink } from "../../src/mqtt/client.ts";
import { VenusBridge } from "../../src/bridges/venus_bridge.ts";

const [address, brokerUrl, portal] = Deno.args;
const mqtt = new MqttLink({ uri: brokerUrl, clientId: "venus_bench_bridge" }, silentLogger);
await mqtt.start();
const bridge = new VenusBridge({
  config: { address, portal_id: portal, keepalive: 600, read_only: false },
  mqtt,
  logger: silentLogger,
});
await bridge.start();
const out = (o: unknown) => Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(o) + "\n"));
out({ ready: true, services: bridge.stats.services, items: bridge.stats.items });
for await (const _ of Deno.stdin.readable) { /* run until stdin closes */ }
await bridge.stop();
await mqtt.stop();
Deno.exit(0);
