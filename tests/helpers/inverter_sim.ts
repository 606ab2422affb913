// The inverter simulator as the tests use it: on a free loopback port, with the tests' dongle identity and
// no periodic input broadcasts unless a test asks for them.

import { type InverterSimOptions, InverterSimulator } from "../../src/sim/inverter.ts";
import { silentLogger } from "../../src/log.ts";

export const TEST_DATALOG = "BA12345678";
export const TEST_SERIAL = "0123456789";

/** Starts a simulator; `opts` override the defaults (port 0, TEST_DATALOG/TEST_SERIAL, interval 0). */
export async function startTestSimulator(
  opts: InverterSimOptions = {},
): Promise<{ sim: InverterSimulator; port: number }> {
  const sim = new InverterSimulator({
    port: 0,
    datalog: TEST_DATALOG,
    serial: TEST_SERIAL,
    interval: 0,
    ...opts,
  }, silentLogger);
  const { port } = await sim.start();
  return { sim, port };
}
