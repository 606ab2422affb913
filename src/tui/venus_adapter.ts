// The console's one door to the Venus D-Bus code (--via direct): the link class and the variant ⇄ JSON
// conversion, re-exported so a reshuffle of src/venus/* only touches these import lines.

export { DbusLink, type DbusLinkHandlers, type ServiceInfo } from "../venus/link.ts";
export { isInvalidVariant, jsonToVariant, variantToJson } from "../venus/variant.ts";
export type { DbusVariant, JsonValue } from "../venus/variant.ts";
