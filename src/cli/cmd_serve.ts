import type { CliContext, ProgramWithGlobals } from "./main.ts";

export function registerServeCommands(_program: ProgramWithGlobals, _ctx: CliContext): void {}
