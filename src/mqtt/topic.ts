// PURE: MQTT topic helpers.

/** Does `topic` match the MQTT subscription `filter` (`+` one level, trailing `#` the rest)? */
export function topicMatches(filter: string, topic: string): boolean {
  if (filter === "#") return !topic.startsWith("$");
  const f = filter.split("/");
  const t = topic.split("/");
  if (t[0]?.startsWith("$") && (f[0] === "+" || f[0] === "#")) return false;
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === "#") return i === f.length - 1;
    if (i >= t.length) return false;
    if (level !== "+" && level !== t[i]) return false;
  }
  return f.length === t.length;
}

/** Redact the password of a URI (`mqtt://user:secret@host` → `mqtt://user:***@host`) for logs. */
export function redactUri(uri: string): string {
  return uri.replace(/^([a-z]+:\/\/[^:/@]*:)[^@]*@/i, "$1***@");
}
