// The embedded broker's settings from [mqtt] (listen address, credentials, TLS files) and how this
// machine's own clients reach it — without loading aedes, so one-shot commands and the TUI can use it.

import type { MqttConfig } from "../config.ts";
import { MqttError } from "./errors.ts";
import { isLoopback, type ListenAddress, listenUri, parseListen } from "./address.ts";

export interface EmbeddedBrokerOptions {
  /** Required from every client when set (with password). */
  username?: string;
  password?: string;
  /** PEM server certificate and key: the listener speaks TLS only. */
  tls?: { cert: Uint8Array; key: Uint8Array };
  /**
   * Bytes waiting on a subscriber's socket from which its QoS-0 messages are held back, only the latest per
   * topic kept, and sent once the socket drained (default 4 MiB; see SlowSubscribers).
   */
  backlogBytes?: number;
  /** Bytes waiting on a subscriber's socket at which it is disconnected (default 64 MiB). */
  disconnectBytes?: number;
}

/** What the [mqtt] listen* keys ask of the embedded broker, validated, files read. */
export interface EmbeddedBrokerSettings extends EmbeddedBrokerOptions {
  listen: ListenAddress;
}

function readKeyFile(key: string, path: string): Uint8Array {
  try {
    return Deno.readFileSync(path);
  } catch (err) {
    throw new MqttError("config", `[mqtt] ${key}: cannot read "${path}": ${(err as Error).message}`);
  }
}

function parseListenKey(m: MqttConfig): ListenAddress {
  const listen = parseListen(m.listen);
  if (typeof listen === "string") throw new MqttError("config", `[mqtt] listen: ${listen}`);
  return listen;
}

/**
 * The problems of the [mqtt] listen* keys, each naming its key (pure: `config check` and serve list them
 * with every other problem of the file): credentials given by halves, TLS given by halves, and an
 * anonymous broker beyond loopback without `allow_anonymous = true`.
 */
export function embeddedBrokerProblems(m: MqttConfig): string[] {
  const problems: string[] = [];
  const hasPassword = !!m.listen_password || !!m.listen_password_file;
  if (m.listen_password && m.listen_password_file) {
    problems.push("[mqtt] listen_password and listen_password_file are both set: keep one of them");
  }
  if (hasPassword && !m.listen_username) {
    problems.push("[mqtt] listen_password is set but listen_username is empty: set both");
  }
  if (m.listen_username && !hasPassword) {
    problems.push(
      `[mqtt] listen_username "${m.listen_username}" has no password: set listen_password or listen_password_file`,
    );
  }
  const listen = parseListen(m.listen);
  if (typeof listen !== "string" && !m.listen_username && !isLoopback(listen.host) && !m.allow_anonymous) {
    problems.push(
      `[mqtt] listen = ${m.listen} lets other machines connect to the embedded broker and write inverter ` +
        "registers and Victron settings, but no [mqtt] listen_username / listen_password is set: set them " +
        "(or listen_password_file), listen on 127.0.0.1, or set [mqtt] allow_anonymous = true to allow it anyway",
    );
  }
  if (!!m.listen_cert !== !!m.listen_key) {
    problems.push(
      `[mqtt] ${m.listen_cert ? "listen_key" : "listen_cert"}: required with ${
        m.listen_cert ? "listen_cert" : "listen_key"
      } (TLS needs both)`,
    );
  }
  return problems;
}

/** listen_username with listen_password or the first line of listen_password_file (checked above). */
function listenCredentials(m: MqttConfig): { username?: string; password?: string } {
  if (!m.listen_username) return {};
  const password = m.listen_password_file
    ? new TextDecoder().decode(readKeyFile("listen_password_file", m.listen_password_file)).split(/\r?\n/)[0]
    : m.listen_password;
  return { username: m.listen_username, password };
}

/**
 * The embedded broker's settings from [mqtt]: listen address, credentials (listen_password_file read here,
 * its first line), TLS files. Throws MqttError("config") naming the key — also when the broker would
 * listen beyond loopback to anyone (no listen_username) without `allow_anonymous = true`.
 */
export function embeddedBrokerSettings(m: MqttConfig): EmbeddedBrokerSettings {
  const problems = embeddedBrokerProblems(m);
  if (problems.length) throw new MqttError("config", problems.join("\n"));
  const listen = parseListenKey(m);
  const credentials = listenCredentials(m);
  const settings: EmbeddedBrokerSettings = { listen, ...credentials };
  if (m.listen_cert) {
    settings.tls = {
      cert: readKeyFile("listen_cert", m.listen_cert),
      key: readKeyFile("listen_key", m.listen_key),
    };
  }
  return settings;
}

/**
 * How a client on this machine reaches the embedded broker of this config (serve's bridges, tui, --via
 * mqtt, the demo's hints): URI (mqtts:// with listen_cert; a wildcard listen address is reached on
 * loopback) and the listen credentials. The certificate is not verified: the broker is this machine's own,
 * reached on one of its own addresses, and listen_cert need not name that address.
 */
export function embeddedClientOptions(
  m: MqttConfig,
): { uri: string; username?: string; password?: string; rejectUnauthorized: boolean } {
  const listen = parseListenKey(m);
  return {
    uri: listenUri(listen, !!m.listen_cert),
    ...listenCredentials(m),
    rejectUnauthorized: !m.listen_cert,
  };
}
