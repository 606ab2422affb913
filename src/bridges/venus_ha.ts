// The Venus bridge's Home Assistant discovery: fetches the GetText of the chosen items whose unit the
// path does not tell, and makes the announcer for the configs built by ../venus/discovery.ts.

import type { Logger } from "../log.ts";
import type { MqttLink } from "../mqtt/client.ts";
import type { DiscoveryMode } from "../mqtt/ha_discovery.ts";
import { hasKnownUnit, venusDeviceId, venusDiscoveryMessages } from "../venus/discovery.ts";
import { HaAnnouncer } from "./ha_announcer.ts";

export interface VenusDiscoveryConfig {
  discoveryPrefix: string;
  /** The bridge's topic prefix (availability: <prefix>/status). */
  prefix: string;
  mode?: DiscoveryMode;
  /** `<type>/<instance>/<path>` items. */
  paths: string[];
}

export async function venusAnnouncer(
  o: VenusDiscoveryConfig & {
    portal: string;
    mqtt: Pick<MqttLink, "publish" | "subscribe">;
    logger: Logger;
    /** The bus name of the service with this "<type>/<instance>", if present. */
    serviceName: (key: string) => string | undefined;
    getText: (service: string, path: string) => Promise<string>;
  },
): Promise<HaAnnouncer | undefined> {
  if (o.paths.length === 0) return undefined;
  const texts: Record<string, string> = {};
  for (const item of o.paths) {
    if (hasKnownUnit(item)) continue;
    const [type, instance, ...rest] = item.split("/");
    const service = o.serviceName(`${type}/${instance}`);
    if (!service) continue;
    try {
      texts[item] = await o.getText(service, "/" + rest.join("/"));
    } catch (err) {
      o.logger.warn("GetText failed: the Home Assistant sensor has no unit", {
        item,
        error: (err as Error).message,
      });
    }
  }
  const config = { discoveryPrefix: o.discoveryPrefix, prefix: o.prefix, mode: o.mode, paths: o.paths };
  return new HaAnnouncer({
    mqtt: o.mqtt,
    discoveryPrefix: o.discoveryPrefix,
    deviceId: venusDeviceId(o.portal),
    mode: o.mode ?? "device",
    messages: () => venusDiscoveryMessages({ ...config, portal: o.portal, texts }),
    logger: o.logger,
  });
}
