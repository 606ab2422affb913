// --via direct: the console talks to the dongle (LxpClient, reconnecting) and to the Venus D-Bus (DbusLink)
// itself — no broker and no `serve` needed (commissioning). Everything the dongle sends (broadcasts, our
// replies) and every D-Bus change becomes a TuiEvent.

import type { Config } from "../config.ts";
import { lxpClientOptions } from "../app.ts";
import type { Logger } from "../log.ts";
import { LxpClient } from "../lxp/client.ts";
import { FN_READ_HOLD, FN_READ_INPUT, FN_WRITE_SINGLE, type Packet } from "../lxp/frame.ts";
import { decodeInputReply } from "../lxp/inputs.ts";
import { lxpClientTransport, type RegisterTransport } from "../lxp/transport.ts";
import type { TuiEvent } from "./state.ts";
import { dedupLogger, type TuiSource } from "./source.ts";
import {
  DbusLink,
  isInvalidVariant,
  jsonToVariant,
  type JsonValue,
  type ServiceInfo,
  variantToJson,
} from "./venus_adapter.ts";

export class DirectSource implements TuiSource {
  readonly via = "direct" as const;
  readonly where: string;
  readonly prefix: string;
  registers?: RegisterTransport;
  private client?: LxpClient;
  private dbus?: DbusLink;
  private emit: (ev: TuiEvent) => void = () => {};
  /** type/instance → D-Bus name */
  private names = new Map<string, string>();
  private offs: (() => void)[] = [];
  private abort = new AbortController();

  constructor(private config: Config, private logger: Logger) {
    const parts: string[] = [];
    if (config.lxp) {
      parts.push(`${config.lxp.name ? `${config.lxp.name} ` : ""}${config.lxp.host}:${config.lxp.port}`);
    }
    if (config.dbus) parts.push(`D-Bus ${config.dbus.address}`);
    this.where = parts.join(" + ");
    this.prefix = config.mqtt.prefix;
  }

  async start(emit: (ev: TuiEvent) => void): Promise<void> {
    this.emit = emit;
    const lxp = this.config.lxp;
    if (lxp) {
      const client = new LxpClient(
        lxpClientOptions(lxp),
        dedupLogger(this.logger.child({ component: "lxp" })),
      );
      this.client = client;
      this.offs.push(client.onLink((up) => emit({ kind: "link", link: "inverter", up })));
      // a dongle that can't be reached at all never goes "down": a failed attempt says so
      this.offs.push(client.onAttempt((error) => {
        if (error !== null) emit({ kind: "link", link: "inverter", up: false, detail: error });
      }));
      this.offs.push(client.onPacket((p) => this.onPacket(p)));
      this.registers = lxpClientTransport(client, () => client.stop());
      client.start(this.abort.signal);
    } else emit({ kind: "link", link: "inverter", up: false, absent: true });
    const dbus = this.config.dbus;
    if (dbus) {
      const svcKey = (s: ServiceInfo) => `${s.type}/${s.instance}`;
      const link = new DbusLink(
        { address: dbus.address },
        dedupLogger(this.logger.child({ component: "dbus" })),
        {
          serviceAdded: (s) => {
            const key = svcKey(s);
            this.names.set(key, s.name);
            emit({ kind: "dbusService", service: key, gone: false });
            for (const [path, v] of s.items) {
              emit({
                kind: "dbusValue",
                service: key,
                path,
                json: variantToJson(v),
                invalid: isInvalidVariant(v),
              });
            }
          },
          serviceRemoved: (s) => emit({ kind: "dbusService", service: svcKey(s), gone: true }),
          valueChanged: (s, path, v) =>
            emit({
              kind: "dbusValue",
              service: svcKey(s),
              path,
              json: variantToJson(v),
              invalid: isInvalidVariant(v),
            }),
          linkChanged: (up) => emit({ kind: "link", link: "dbus", up }),
        },
      );
      this.dbus = link;
      await link.start(this.abort.signal);
      emit({ kind: "link", link: "dbus", up: true });
    } else emit({ kind: "link", link: "dbus", up: false, absent: true });
  }

  private onPacket(p: Packet) {
    if (p.kind !== "translated" || p.exceptionCode !== undefined) return;
    if (p.fn === FN_READ_INPUT && p.values) {
      for (const { block, json } of decodeInputReply(p.register, p.values)) {
        this.emit({ kind: "inputs", block, json });
      }
    } else if (p.fn === FN_READ_HOLD && p.values) {
      this.emit({ kind: "hold", register: p.register, values: p.values });
    } else if (p.fn === FN_WRITE_SINGLE && p.value !== undefined && p.address !== 0) {
      this.emit({ kind: "hold", register: p.register, values: [p.value] });
    }
  }

  setKeepalive(): void {
    // the bus sends every change to whoever listens: nothing to keep alive
  }

  async requestInputs(): Promise<void> {
    if (!this.registers) throw new Error("no [lxp] configured");
    for (const block of [1, 2, 3] as const) await this.registers.readInputBlock(block);
  }

  private name(service: string): string {
    const n = this.names.get(service);
    if (!n || !this.dbus) throw new Error(`no D-Bus service ${service}`);
    return n;
  }

  async dbusWrite(service: string, path: string, json: unknown): Promise<void> {
    const rc = await this.dbus!.setValue(this.name(service), path, jsonToVariant(json as JsonValue));
    if (rc !== 0) throw new Error(`SetValue ${service}${path} answered ${rc}`);
  }

  async dbusRead(service: string, path: string): Promise<void> {
    const v = await this.dbus!.getValue(this.name(service), path);
    this.emit({ kind: "dbusValue", service, path, json: variantToJson(v), invalid: isInvalidVariant(v) });
  }

  async stop(): Promise<void> {
    this.abort.abort();
    for (const off of this.offs) off();
    await this.client?.stop();
    await this.dbus?.stop();
  }
}
