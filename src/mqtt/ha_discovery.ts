// PURE: Home Assistant MQTT discovery payloads in the two forms Home Assistant reads.
//
// device (default): one retained config per device on <discovery_prefix>/device/<device id>/config with
//   `dev`, `o` (origin), the shared availability and `cmps` holding every entity (each with `p`, its
//   platform). Republishing it with a component missing makes Home Assistant remove that entity.
// entity: one retained config per entity on <discovery_prefix>/<platform>/<device id>/<key>/config, each
//   with the device, origin and availability (for Home Assistant before 2024.11).
// Every entity gets unique_id "<device id>_<key>" and default_entity_id "<platform>.<device id>_<key>"
// (Home Assistant 2025.10 replaced object_id by default_entity_id; 2026.4 ignores object_id).

import { SUPPORT_URL, VERSION } from "../version.ts";

export type DiscoveryMode = "device" | "entity";

export interface DiscoveryMessage {
  topic: string;
  payload: string;
}

export interface HaDevice {
  identifiers: string[];
  name: string;
  manufacturer: string;
  model: string;
  serial_number?: string;
}

export interface HaAvailability {
  topic: string;
  value_template?: string;
  payload_available?: string;
  payload_not_available?: string;
}

/** One entity: its key within the device, its platform, and its options (name first). */
export interface HaComponent {
  key: string;
  platform: "sensor" | "switch" | "number" | "text";
  name: string;
  /** Everything else (state_topic, value_template, unit_of_measurement, …), in output order. */
  options: Record<string, unknown>;
}

export interface HaDeviceSpec {
  discoveryPrefix: string;
  /** Device id: the device topic level and the prefix of every unique_id. */
  id: string;
  device: HaDevice;
  availability: HaAvailability[];
  components: HaComponent[];
}

/** The origin block: who published the discovery message. */
/** The origin of every config; the support URL only where the build names its repository. */
const ORIGIN: Readonly<{ name: string; sw_version: string; support_url?: string }> = SUPPORT_URL
  ? { name: "ess2mqtt", sw_version: VERSION, support_url: SUPPORT_URL }
  : { name: "ess2mqtt", sw_version: VERSION };

function entityIds(id: string, c: HaComponent) {
  return { unique_id: `${id}_${c.key}`, default_entity_id: `${c.platform}.${id}_${c.key}` };
}

/** The device config topic. */
function deviceConfigTopic(discoveryPrefix: string, id: string): string {
  return `${discoveryPrefix}/device/${id}/config`;
}

/** The per-entity config topic. */
function entityConfigTopic(discoveryPrefix: string, id: string, c: HaComponent): string {
  return `${discoveryPrefix}/${c.platform}/${id}/${c.key}/config`;
}

/** The retained discovery messages of one device in the chosen form. */
export function discoveryPayloads(mode: DiscoveryMode, spec: HaDeviceSpec): DiscoveryMessage[] {
  const { id } = spec;
  const availabilityMode = spec.availability.length > 1 ? { availability_mode: "all" } : {};
  if (mode === "device") {
    const cmps: Record<string, unknown> = {};
    for (const c of spec.components) {
      cmps[c.key] = { p: c.platform, name: c.name, ...entityIds(id, c), ...c.options };
    }
    const payload = {
      dev: spec.device,
      o: ORIGIN,
      availability: spec.availability,
      ...availabilityMode,
      cmps,
    };
    return [{ topic: deviceConfigTopic(spec.discoveryPrefix, id), payload: JSON.stringify(payload) }];
  }
  return spec.components.map((c) => {
    const own = "availability" in c.options ? {} : { availability: spec.availability, ...availabilityMode };
    const payload = {
      name: c.name,
      ...entityIds(id, c),
      ...c.options,
      ...own,
      device: spec.device,
      origin: ORIGIN,
    };
    return { topic: entityConfigTopic(spec.discoveryPrefix, id, c), payload: JSON.stringify(payload) };
  });
}
