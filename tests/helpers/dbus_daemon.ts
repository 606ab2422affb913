// A private dbus-daemon for one test, started and stopped by the test: the one implementation in
// src/sim/dbus_daemon.ts (also used by `sim venus` and the demo).

export { type DbusDaemon, type DbusDaemonOptions, startDbusDaemon } from "../../src/sim/dbus_daemon.ts";
