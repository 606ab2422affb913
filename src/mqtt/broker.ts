// The embedded MQTT broker (aedes over node:net), used by `serve` when no [mqtt] uri is configured.

import { Aedes } from "aedes";
import net from "node:net";
import type { Logger } from "../log.ts";
import { MqttError } from "./errors.ts";
import { type ListenAddress, listenUri } from "./address.ts";

export class EmbeddedBroker {
  private server?: net.Server;
  private broker?: Aedes;
  port = 0;

  constructor(private listen: ListenAddress, private logger: Logger) {}

  get url(): string {
    return listenUri({ host: this.listen.host, port: this.port });
  }

  async start(): Promise<{ port: number; url: string }> {
    const broker = await Aedes.createBroker();
    this.broker = broker;
    const server = net.createServer({ noDelay: true }, broker.handle);
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", (err: NodeJS.ErrnoException) => {
        void this.stop();
        reject(
          new MqttError(
            "unreachable",
            `embedded MQTT broker cannot listen on ${this.listen.host}:${this.listen.port}: ${
              err.code ?? err.message
            }`,
          ),
        );
      });
      server.listen(this.listen.port, this.listen.host, () => resolve());
    });
    this.port = (server.address() as net.AddressInfo).port;
    server.on("error", (err) => this.logger.error("embedded broker error", { error: err }));
    this.logger.info("embedded MQTT broker listening", { url: this.url });
    return { port: this.port, url: this.url };
  }

  async stop(): Promise<void> {
    const broker = this.broker;
    const server = this.server;
    this.broker = undefined;
    this.server = undefined;
    if (broker) await new Promise<void>((r) => broker.close(() => r()));
    if (server?.listening) await new Promise<void>((r) => server.close(() => r()));
  }
}
