// Embedded at build time (no files are read at run time, so the compiled binary knows its version).
export const VERSION = "0.1.0";
/** Where users get help (Home Assistant shows it as the origin's support URL). */
export const SUPPORT_URL = "https://github.com/ess2mqtt/ess2mqtt";
