// `--via mqtt`: the one-shot register commands talk to a running `ess2mqtt serve` (or octolux) through
// the broker: publish <prefix>/cmd/<command>, wait for the data topics and <prefix>/result/<command>.

import type { RegisterTransport, TransportRequest } from "./cmd_lxp.ts";
import { CliError, ExitCode } from "./errors.ts";
import { MqttLink, type MqttMessage } from "../mqtt/client.ts";
import { redactUri } from "../mqtt/topic.ts";
import { embeddedClientOptions } from "../mqtt/broker.ts";

const BIT_COMMANDS: Record<number, string> = {
  7: "ac_charge",
  10: "forced_discharge",
  11: "charge_priority",
};
const decoder = new TextDecoder();

interface Waiter {
  pred: (m: MqttMessage) => boolean;
  resolve: (m: MqttMessage) => void;
}

export class MqttRegisterTransport implements RegisterTransport {
  private waiters: Waiter[] = [];
  private seen: MqttMessage[] = [];

  constructor(
    private link: MqttLink,
    private prefix: string,
    private timeoutMs: number,
    private where: string,
  ) {}

  static async open(req: TransportRequest): Promise<MqttRegisterTransport> {
    const config = await req.ctx.loadConfig();
    const m = config.mqtt;
    const local = m.uri ? undefined : embeddedClientOptions(m); // serve's embedded broker
    const uri = m.uri || local!.uri;
    const timeoutMs = req.timeoutMs ?? ((config.lxp?.command_timeout ?? 10) * 1000 + 2000);
    const link = new MqttLink({
      uri,
      username: local ? local.username : m.username || undefined,
      password: local ? local.password : m.password || undefined,
      clientId: m.client_id ? `${m.client_id}_cli` : undefined,
      ca: m.ca || undefined,
      cert: m.cert || undefined,
      key: m.key || undefined,
      rejectUnauthorized: local ? local.rejectUnauthorized : m.reject_unauthorized,
      connectTimeoutMs: Math.min(timeoutMs, 5000),
      reconnectPeriodMs: 0,
    }, req.logger);
    await link.start();
    const t = new MqttRegisterTransport(link, m.prefix, timeoutMs, redactUri(uri));
    const onMessage = (msg: MqttMessage) => t.onMessage(msg);
    await link.subscribeAsync(`${m.prefix}/hold/+`, onMessage);
    await link.subscribeAsync(`${m.prefix}/inputs/+`, onMessage);
    await link.subscribeAsync(`${m.prefix}/result/#`, onMessage);
    return t;
  }

  private onMessage(m: MqttMessage) {
    if (m.retain) return; // a stale retained value is not an answer to our command
    this.seen.push(m);
    for (const w of [...this.waiters]) {
      if (w.pred(m)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  }

  /** Publish a command and wait for its result; returns the messages seen between the two. */
  private async command(name: string, payload: string): Promise<MqttMessage[]> {
    const resultTopic = `${this.prefix}/result/${name}`;
    const from = this.seen.length;
    const result = new Promise<MqttMessage | undefined>((resolve) => {
      const w: Waiter = { pred: (m) => m.topic === resultTopic, resolve };
      this.waiters.push(w);
      setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve(undefined);
      }, this.timeoutMs);
    });
    await this.link.publishAsync(`${this.prefix}/cmd/${name}`, payload, { qos: 1 });
    const got = await result;
    if (!got) {
      throw new CliError(
        ExitCode.deviceUnreachable,
        `no ${resultTopic} within ${
          this.timeoutMs / 1000
        } s from ${this.where} (is ess2mqtt serve running with [lxp] configured?)`,
      );
    }
    const answer = decoder.decode(got.payload);
    if (answer !== "OK") {
      throw new CliError(
        ExitCode.deviceFailure,
        `${resultTopic} = ${answer || "(empty)"} for ${name} ${payload}`,
      );
    }
    return this.seen.slice(from, this.seen.indexOf(got));
  }

  private holdValues(messages: MqttMessage[], register: number, count: number): number[] {
    const values: (number | undefined)[] = new Array(count).fill(undefined);
    for (const m of messages) {
      const reg = Number(m.topic.slice(`${this.prefix}/hold/`.length));
      if (!m.topic.startsWith(`${this.prefix}/hold/`) || reg < register || reg >= register + count) continue;
      values[reg - register] = Number(decoder.decode(m.payload));
    }
    const missing = values.findIndex((v) => v === undefined);
    if (missing >= 0) {
      throw new CliError(
        ExitCode.deviceFailure,
        `the bridge answered OK but ${this.prefix}/hold/${register + missing} was not published`,
      );
    }
    return values as number[];
  }

  async readHold(register: number, count = 1): Promise<number[]> {
    const seen = await this.command("read_hold", count === 1 ? String(register) : `${register},${count}`);
    return this.holdValues(seen, register, count);
  }

  readInput(): Promise<number[]> {
    return Promise.reject(
      new CliError(ExitCode.usage, "raw input registers are not published over MQTT; use read-input <block>"),
    );
  }

  /** The octolux JSON of one input block, as the bridge publishes it. */
  async readInputBlock(block: 1 | 2 | 3 | 4): Promise<Record<string, number>> {
    const seen = await this.command("read_input", String(block));
    const data = seen.findLast((m) => m.topic === `${this.prefix}/inputs/${block}`);
    if (!data) {
      throw new CliError(
        ExitCode.deviceFailure,
        `the bridge answered OK but ${this.prefix}/inputs/${block} was not published`,
      );
    }
    return JSON.parse(decoder.decode(data.payload));
  }

  async writeHold(register: number, value: number): Promise<number> {
    const seen = await this.command(`set_hold/${register}`, String(value));
    const echo = seen.findLast((m) => m.topic === `${this.prefix}/hold/${register}`);
    return echo ? Number(decoder.decode(echo.payload)) : value;
  }

  async updateBit(register: number, bit: number, on: boolean): Promise<number> {
    const name = register === 21 ? BIT_COMMANDS[bit] : undefined;
    if (!name) {
      throw new CliError(
        ExitCode.usage,
        `register ${register} bit ${bit} has no MQTT command; use --via lxp`,
      );
    }
    const seen = await this.command(name, on ? "on" : "off");
    const echo = seen.findLast((m) => m.topic === `${this.prefix}/hold/21`);
    if (echo) return Number(decoder.decode(echo.payload));
    return (await this.readHold(21, 1))[0];
  }

  close(): Promise<void> {
    return this.link.stop();
  }
}
