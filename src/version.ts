// Embedded at build time (no files are read at run time, so the compiled binary knows its version).
// The release workflow (.github/workflows/release.yml) rewrites VERSION, COMMIT and SUPPORT_URL before
// `deno compile`.
export const VERSION = "0.1.0";
export const COMMIT = "dev";
/**
 * Where users get help (Home Assistant shows it as the origin's support URL): the repository the release
 * was built from; empty in a checkout, where no URL is claimed.
 */
export const SUPPORT_URL = "";

/** What `ess2mqtt --version` prints: version, git commit, and the Deno runtime it runs on. */
export function versionText(): string {
  return `ess2mqtt ${VERSION} (commit ${COMMIT}, deno ${Deno.version.deno})`;
}
