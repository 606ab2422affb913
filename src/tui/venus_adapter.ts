// The console's one door to the Venus D-Bus code (--via direct): the link class and the variant ⇄ JSON
// conversion, re-exported so a reshuffle of src/venus/* only touches these import lines.

export { DbusLink, type DbusLinkHandlers, type ServiceInfo } from "../venus/dbus.ts";
export { isInvalidVariant, jsonToVariant, variantToJson } from "../venus/topics.ts";
export type { DbusVariant, JsonValue } from "../venus/topics.ts";
