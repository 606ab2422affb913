// Embedded at build time (no files are read at run time, so the compiled binary knows its version).
export const VERSION = "0.1.0";
