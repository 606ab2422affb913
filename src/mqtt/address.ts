// PURE: broker addresses — the [mqtt] uri a client connects to and the [mqtt] listen address of the
// embedded broker, checked with messages that name the bad value.

import { redactUri } from "./topic.ts";

const SUPPORTED_SCHEMES = ["mqtt:", "mqtts:", "ws:", "wss:", "tcp:", "ssl:"];

/** Check a broker URI; returns an error message naming the bad value, or undefined when valid. */
export function checkBrokerUri(uri: string): string | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return `not a valid URI: "${redactUri(uri)}"`;
  }
  if (!SUPPORTED_SCHEMES.includes(url.protocol)) {
    return `unsupported scheme "${url.protocol.replace(":", "")}" (use mqtt, mqtts, ws or wss)`;
  }
  if (!url.hostname) return `no host in "${redactUri(uri)}"`;
  return undefined;
}

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

/** True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost). */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h) || h === "::ffff:127.0.0.1";
}

/**
 * The URI a client on this machine uses to reach a broker listening on `listen` (0.0.0.0/:: → loopback);
 * mqtts:// when the listener speaks TLS.
 */
export function listenUri(listen: ListenAddress, secure = false): string {
  const host = listen.host === "0.0.0.0" || listen.host === ""
    ? "127.0.0.1"
    : listen.host === "::"
    ? "::1"
    : listen.host;
  return `${secure ? "mqtts" : "mqtt"}://${host.includes(":") ? `[${host}]` : host}:${listen.port}`;
}
