// MQTT link: one mqtt.js client with URI/credential/TLS handling, last will, automatic reconnect,
// subscriptions that survive reconnects, and per-filter message routing.

import mqtt from "mqtt";
import { Buffer } from "node:buffer";
import type { IClientOptions, MqttClient } from "mqtt";
import type { Logger } from "../log.ts";
import { MqttError } from "./errors.ts";
import { redactUri, topicMatches } from "./topic.ts";
import { checkBrokerUri } from "./address.ts";

export interface MqttMessage {
  topic: string;
  payload: Uint8Array;
  retain: boolean;
}

export interface MqttLinkOptions {
  uri: string;
  clientId?: string;
  username?: string;
  password?: string;
  /** File paths of PEM files for mqtts:// and wss://. */
  ca?: string;
  cert?: string;
  key?: string;
  rejectUnauthorized?: boolean;
  will?: { topic: string; payload: string; retain: boolean; qos: 0 | 1 };
  connectTimeoutMs?: number;
  reconnectPeriodMs?: number;
  /** MQTT keep-alive in seconds (default 30). */
  keepalive?: number;
  /** 5 (default: MQTT 5 with a fallback to 3.1.1 when the broker refuses it) or 4 (3.1.1 only). */
  protocolVersion?: 4 | 5;
}

class UnsupportedProtocol extends Error {}

function readPem(key: string, path: string): Buffer {
  try {
    return Deno.readFileSync(path) as unknown as Buffer;
  } catch (err) {
    throw new MqttError("config", `[mqtt] ${key}: cannot read "${path}": ${(err as Error).message}`);
  }
}

/** CONNACK "unacceptable protocol version" (3.1.1: 1) / "unsupported protocol version" (5: 132). */
function isUnsupportedProtocol(err: Error): boolean {
  const code = (err as { code?: number }).code;
  return code === 1 || code === 132;
}

interface Subscription {
  filter: string;
  handler: (m: MqttMessage) => void;
}

const utf8 = new TextEncoder();
type RawSocket = { write(b: Uint8Array): boolean; writable?: boolean; destroyed?: boolean };

/** True when every UTF-16 unit of `s` is ASCII (then its UTF-8 bytes are its char codes). */
function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/**
 * QoS-0 PUBLISH frames written straight onto mqtt.js's socket, all frames of one synchronous burst in one
 * write (flushed in a microtask: same tick, no time window). Going through mqtt.js costs ~30 µs of CPU per
 * publish and piles up a drain listener per packet under load (a 10,000-topic publish took ~250 ms; this
 * path ~140 ms). QoS-0 publishes carry no client state, and mqtt.js writes each of its packets
 * synchronously, so frames can't interleave with its own.
 *
 * Frames are encoded in place into one reusable buffer (ASCII topics and payloads char by char, no
 * TextEncoder call, no per-frame allocation); a flush copies the pending bytes once into a Buffer for the
 * socket. A burst larger than FLUSH_BYTES is written in pieces of about that size as it is encoded (in
 * order, on the same socket), so the broker starts forwarding while the rest is still being encoded.
 */
class BatchedQos0Writer {
  private buf = new Uint8Array(16384);
  private len = 0;
  private scheduled = false;
  static readonly FLUSH_BYTES = 65536;
  /** `version()`: MQTT 5 PUBLISH frames carry a properties length (0) after the topic. */
  constructor(private socket: () => RawSocket | undefined, private version: () => number) {}

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.buf.subarray(0, this.len));
    this.buf = grown;
  }

  /** False when there is no usable socket (the caller falls back to mqtt.js). */
  write(topic: Uint8Array | string, payload: string | Uint8Array, retain: boolean): boolean {
    if (!this.scheduled && !this.socket()) return false;
    const topicText = typeof topic === "string";
    const topicBytes = topicText ? (isAscii(topic) ? undefined : utf8.encode(topic)) : topic;
    const payText = typeof payload === "string";
    const payBytes = payText ? (isAscii(payload) ? undefined : utf8.encode(payload)) : payload;
    const tl = topicBytes ? topicBytes.length : (topic as string).length;
    const pl = payBytes ? payBytes.length : (payload as string).length;
    const props = this.version() === 5 ? 1 : 0;
    const rem = 2 + tl + props + pl;
    this.reserve(5 + rem);
    const f = this.buf;
    let i = this.len;
    f[i++] = 0x30 | (retain ? 1 : 0);
    let n = rem;
    do {
      let b = n & 0x7f;
      n = Math.floor(n / 128);
      if (n > 0) b |= 0x80;
      f[i++] = b;
    } while (n > 0);
    f[i++] = tl >> 8;
    f[i++] = tl & 0xff;
    if (topicBytes) {
      f.set(topicBytes, i);
      i += tl;
    } else {
      const t = topic as string;
      for (let k = 0; k < tl; k++) f[i++] = t.charCodeAt(k);
    }
    if (props) f[i++] = 0; // no properties
    if (payBytes) {
      f.set(payBytes, i);
      i += pl;
    } else {
      const p = payload as string;
      for (let k = 0; k < pl; k++) f[i++] = p.charCodeAt(k);
    }
    this.len = i;
    if (i >= BatchedQos0Writer.FLUSH_BYTES) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => this.flush());
    }
    return true;
  }

  /** Writes what is pending now (so a publish through mqtt.js can't overtake earlier fast frames). */
  flush(): void {
    this.scheduled = false;
    if (!this.len) return;
    // A copy for the socket (it may hold on to what it is given); the encoding buffer is reused.
    const out = Buffer.allocUnsafe(this.len);
    out.set(this.buf.subarray(0, this.len));
    this.len = 0;
    if (this.buf.length > 4 * BatchedQos0Writer.FLUSH_BYTES) this.buf = new Uint8Array(16384);
    this.socket()?.write(out);
  }
}

export class MqttLink {
  private client?: MqttClient;
  private subs: Subscription[] = [];
  private connectListeners = new Set<() => void>();
  private stopped = false;
  readonly stats = { received: 0, published: 0, reconnects: 0, handlerErrors: 0 };
  private readonly qos0 = new BatchedQos0Writer(() => {
    const c = this.client as unknown as { connected?: boolean; stream?: RawSocket } | undefined;
    const st = c?.connected && !this.stopped ? c.stream : undefined;
    if (!st || typeof st.write !== "function" || st.destroyed || st.writable === false) return undefined;
    return st;
  }, () => this.protocolVersion);

  constructor(private options: MqttLinkOptions, private logger: Logger) {}

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  /**
   * Connects; resolves on the first CONNACK, rejects with exit code 5 when the broker can't be reached in
   * time. Speaks MQTT 5 where the broker does, subscribing with retain-as-published so a message that
   * was published retained is recognisable even when delivered live; falls back to MQTT 3.1.1 (aedes),
   * where only messages replayed from the retained store carry the flag.
   */
  async start(signal?: AbortSignal): Promise<void> {
    // A link that failed to start (it stops itself) or was stopped does not come back: say so, not hang.
    if (this.stopped) throw new Error("MqttLink.start() after the link stopped: make a new MqttLink");
    const o = this.options;
    const bad = checkBrokerUri(o.uri);
    if (bad) throw new MqttError("config", `[mqtt] uri: ${bad}`);
    signal?.addEventListener("abort", () => void this.stop(), { once: true });
    if ((o.protocolVersion ?? 5) === 5) {
      try {
        await this.connect(5);
        return;
      } catch (err) {
        if (!(err instanceof UnsupportedProtocol)) throw err;
        this.logger.debug("broker does not speak MQTT 5; using MQTT 3.1.1", { broker: redactUri(o.uri) });
      }
    }
    await this.connect(4);
  }

  /** MQTT protocol version in use (5 or 4 = 3.1.1); 0 before the first connection. */
  protocolVersion = 0;

  private subscribeOptions() {
    return this.protocolVersion === 5 ? { qos: 1 as const, rap: true } : { qos: 1 as const };
  }

  private connect(version: 4 | 5): Promise<void> {
    const o = this.options;
    const opts: IClientOptions = {
      clientId: o.clientId || `ess2mqtt_${crypto.randomUUID().slice(0, 8)}`,
      connectTimeout: o.connectTimeoutMs ?? 5000,
      reconnectPeriod: o.reconnectPeriodMs ?? 1000,
      keepalive: o.keepalive ?? 30,
      clean: true,
      resubscribe: true,
      rejectUnauthorized: o.rejectUnauthorized ?? true,
      protocolVersion: version,
    };
    if (o.username) opts.username = o.username;
    if (o.password) opts.password = o.password;
    if (o.ca) opts.ca = readPem("ca", o.ca);
    if (o.cert) opts.cert = readPem("cert", o.cert);
    if (o.key) opts.key = readPem("key", o.key);
    if (o.will) {
      opts.will = { ...o.will, payload: new TextEncoder().encode(o.will.payload) as unknown as Buffer };
    }

    const where = redactUri(o.uri);
    const client = mqtt.connect(o.uri, opts);
    this.client = client;
    let firstConnect = true;

    client.on("connect", () => {
      this.protocolVersion = version;
      const stream = (client as unknown as { stream?: { setNoDelay?: (b: boolean) => void } }).stream;
      stream?.setNoDelay?.(true);
      if (firstConnect) {
        this.logger.info("connected to MQTT broker", { broker: where, mqtt: version === 5 ? "5" : "3.1.1" });
      } else {
        this.stats.reconnects++;
        this.logger.info("reconnected to MQTT broker", { broker: where });
      }
      firstConnect = false;
      // mqtt.js resubscribes what it already had; (re)subscribe anything registered since, idempotently.
      const filters = [...new Set(this.subs.map((s) => s.filter))];
      if (filters.length) client.subscribe(filters, this.subscribeOptions());
      for (const cb of this.connectListeners) {
        try {
          cb();
        } catch (err) {
          this.logger.error("connect listener failed", { error: err });
        }
      }
    });
    client.on("offline", () => {
      if (!this.stopped && !firstConnect) {
        this.logger.warn("MQTT broker connection lost; reconnecting", { broker: where });
      }
    });
    client.on("error", (err) => {
      if (!firstConnect || !isUnsupportedProtocol(err)) {
        this.logger.warn("MQTT error", { broker: where, error: err.message });
      }
    });
    client.on("message", (topic, payload, packet) => {
      this.stats.received++;
      const msg: MqttMessage = { topic, payload, retain: packet.retain };
      for (const s of this.subs) {
        if (!topicMatches(s.filter, topic)) continue;
        try {
          s.handler(msg);
        } catch (err) {
          this.stats.handlerErrors++;
          this.logger.error("MQTT message handler failed", { topic, error: err });
        }
      }
    });

    return new Promise<void>((resolve, reject) => {
      const timeoutMs = (o.connectTimeoutMs ?? 5000) + 500;
      const timer = setTimeout(() => {
        cleanup();
        void this.stop();
        reject(
          new MqttError(
            "unreachable",
            `MQTT broker ${where} unreachable (no connection within ${timeoutMs} ms)`,
          ),
        );
      }, timeoutMs);
      const onConnect = () => {
        cleanup();
        resolve();
      };
      const onError = (err: Error) => {
        if (version === 5 && isUnsupportedProtocol(err)) {
          cleanup();
          client.end(true);
          reject(new UnsupportedProtocol());
          return;
        }
        // A refused TCP connection, authentication and TLS failures are final: don't keep the user
        // waiting (a broker that does not answer at all is given connectTimeoutMs).
        const code = (err as { code?: number | string }).code;
        if (
          code === "ECONNREFUSED" || code === 4 || code === 5 || code === 134 || code === 135 ||
          /certificate|self.signed|TLS/i.test(err.message)
        ) {
          cleanup();
          void this.stop();
          reject(
            new MqttError("unreachable", `MQTT broker ${where} refused the connection: ${err.message}`),
          );
        }
      };
      const cleanup = () => {
        clearTimeout(timer);
        client.off("connect", onConnect);
        client.off("error", onError);
      };
      client.once("connect", onConnect);
      client.on("error", onError);
    });
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const c = this.client;
    if (!c) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        c.end(true, {}, () => resolve());
      }, 1000);
      c.end(false, {}, () => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /** Routes messages matching `filter` to `handler`; the subscription is restored after every reconnect. */
  subscribe(filter: string, handler: (m: MqttMessage) => void): void {
    this.subs.push({ filter, handler });
    if (this.client?.connected) this.client.subscribe(filter, this.subscribeOptions());
  }

  /** Like subscribe, but resolves once the broker has acknowledged the subscription (SUBACK). */
  subscribeAsync(filter: string, handler: (m: MqttMessage) => void): Promise<void> {
    this.subs.push({ filter, handler });
    const c = this.client;
    if (!c?.connected) return Promise.resolve();
    return new Promise((resolve, reject) =>
      c.subscribe(filter, this.subscribeOptions(), (err) => (err ? reject(err) : resolve()))
    );
  }

  /** Fire-and-forget publish; mqtt.js queues it while offline. Never throws. */
  publish(topic: string, payload: string | Uint8Array, opts: { retain?: boolean; qos?: 0 | 1 } = {}): void {
    const c = this.client;
    if (!c || this.stopped) return;
    this.qos0.flush();
    this.stats.published++;
    try {
      c.publish(
        topic,
        payload as string | Buffer,
        { qos: opts.qos ?? 0, retain: opts.retain ?? false },
        (err) => {
          if (err && !this.stopped) this.logger.warn("MQTT publish failed", { topic, error: err.message });
        },
      );
    } catch (err) {
      this.logger.warn("MQTT publish failed", { topic, error: err });
    }
  }

  /**
   * QoS-0 publish for high-rate notification streams: frames of one synchronous burst go out in one socket
   * write (bursts over 64 KiB in pieces of about that size, in order). Stays in order with everything else
   * published on this link (publish() writes pending fast frames first); falls back to publish() while
   * offline. `topic` may be given pre-encoded (UTF-8; `topicText` then saves decoding it for the fallback).
   */
  publishFast(topic: string | Uint8Array, payload: string, retain: boolean, topicText?: string): void {
    if (this.stopped) return;
    if (this.qos0.write(topic, payload, retain)) {
      this.stats.published++;
      return;
    }
    const text = typeof topic === "string" ? topic : (topicText ?? new TextDecoder().decode(topic));
    this.publish(text, payload, { retain, qos: 0 });
  }

  /** Publish and wait for the broker's acknowledgement (QoS 1) or the write (QoS 0). */
  publishAsync(
    topic: string,
    payload: string | Uint8Array,
    opts: { retain?: boolean; qos?: 0 | 1 } = {},
  ): Promise<void> {
    const c = this.client;
    if (!c || this.stopped) return Promise.reject(new Error("MQTT link not started"));
    this.qos0.flush();
    this.stats.published++;
    return new Promise((resolve, reject) =>
      c.publish(
        topic,
        payload as string | Buffer,
        { qos: opts.qos ?? 1, retain: opts.retain ?? false },
        (err) => err ? reject(err) : resolve(),
      )
    );
  }

  /** Called after every (re)connect, once subscriptions are restored. */
  onConnect(cb: () => void): () => void {
    this.connectListeners.add(cb);
    return () => this.connectListeners.delete(cb);
  }
}
