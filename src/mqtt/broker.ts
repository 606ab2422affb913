// The embedded MQTT broker (aedes over node:net), used by `serve` when no [mqtt] uri is configured.

import { Aedes } from "aedes";
import net from "node:net";
import type { Logger } from "../log.ts";
import { MqttError } from "./errors.ts";

export interface ListenAddress {
  host: string;
  port: number;
}

/** Parse `host:port`, `:port` or `port`; returns an error message naming the bad value. */
export function parseListen(text: string): ListenAddress | string {
  const m = /^(?:\[?([^\]]*?)\]?:)?(\d+)$/.exec(text.trim());
  if (!m) return `not host:port: "${text}"`;
  const port = Number(m[2]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) return `port out of range 0–65535: "${m[2]}"`;
  return { host: m[1] || "127.0.0.1", port };
}

export class EmbeddedBroker {
  private server?: net.Server;
  private broker?: Aedes;
  port = 0;

  constructor(private listen: ListenAddress, private logger: Logger) {}

  get url(): string {
    const host = this.listen.host.includes(":") ? `[${this.listen.host}]` : this.listen.host;
    return `mqtt://${host === "0.0.0.0" ? "127.0.0.1" : host}:${this.port}`;
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
