// `ess2mqtt completions bash|zsh|fish`: a completion script generated from the command tree itself, so it
// always knows every command and option of this version.

import type { Command } from "@commander-js/extra-typings";
import type { CliContext, ProgramWithGlobals } from "./context.ts";
import { parseChoice } from "./args.ts";

const SHELLS = ["bash", "zsh", "fish"] as const;
type Shell = (typeof SHELLS)[number];

interface Node {
  /** "read-hold", "sim inverter", … ("" for the program itself). */
  path: string;
  description: string;
  subcommands: { name: string; description: string }[];
  options: { flags: string[]; description: string }[];
}

function walk(cmd: Command<any, any, any>, prefix: string, out: Node[]): void {
  const sub = cmd.commands as Command<any, any, any>[];
  out.push({
    path: prefix,
    description: cmd.description(),
    subcommands: sub.map((c) => ({ name: c.name(), description: c.description() })),
    options: cmd.options.map((o) => ({
      flags: [o.short, o.long].filter((f): f is string => !!f),
      description: o.description,
    })),
  });
  for (const c of sub) walk(c, prefix ? `${prefix} ${c.name()}` : c.name(), out);
}

const firstLine = (s: string) => s.split("\n")[0].replace(/'/g, "’");

/** The completion script for `shell` of the command tree under `program`. */
function completionScript(program: Command<any, any, any>, shell: Shell): string {
  const nodes: Node[] = [];
  walk(program, "", nodes);
  const globals = nodes[0].options.flatMap((o) => o.flags);
  const name = program.name();
  if (shell === "bash") {
    const cases = nodes.map((n) => {
      const words = [...n.subcommands.map((s) => s.name), ...n.options.flatMap((o) => o.flags), ...globals];
      return `    "${n.path}") words="${[...new Set(words)].join(" ")}" ;;`;
    });
    return `# bash completion for ${name}; install: ${name} completions bash > /etc/bash_completion.d/${name}
_${name}_complete() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" cmdpath="" w i
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    [[ "$w" == -* ]] && continue
    case "$cmdpath\${cmdpath:+ }$w" in
${nodes.slice(1).map((n) => `      "${n.path}") cmdpath="${n.path}" ;;`).join("\n")}
    esac
  done
  local words
  case "$cmdpath" in
${cases.join("\n")}
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F _${name}_complete ${name}
`;
  }
  if (shell === "zsh") {
    const cases = nodes.map((n) => {
      const items = [
        ...n.subcommands.map((s) => `'${s.name}:${firstLine(s.description).replace(/:/g, "\\:")}'`),
        ...n.options.flatMap((o) =>
          o.flags.map((f) => `'${f}:${firstLine(o.description).replace(/:/g, "\\:")}'`)
        ),
      ];
      return `    "${n.path}") items=(${items.join(" ")}) ;;`;
    });
    return `#compdef ${name}
# zsh completion for ${name}; install: ${name} completions zsh > "\${fpath[1]}/_${name}"
_${name}() {
  local cmdpath="" w i
  local -a items
  for ((i = 2; i < CURRENT; i++)); do
    w="\${words[i]}"
    [[ "$w" == -* ]] && continue
    case "$cmdpath\${cmdpath:+ }$w" in
${nodes.slice(1).map((n) => `      "${n.path}") cmdpath="${n.path}" ;;`).join("\n")}
    esac
  done
  case "$cmdpath" in
${cases.join("\n")}
  esac
  _describe '${name}' items
}
compdef _${name} ${name}
`;
  }
  const lines = [
    `# fish completion for ${name}; install: ${name} completions fish > ~/.config/fish/completions/${name}.fish`,
  ];
  lines.push(`complete -c ${name} -f`);
  for (const n of nodes) {
    const parents = n.path ? n.path.split(" ") : [];
    const cond = parents.length
      ? `__fish_seen_subcommand_from ${parents[parents.length - 1]}`
      : "__fish_use_subcommand";
    for (const s of n.subcommands) {
      lines.push(`complete -c ${name} -n '${cond}' -a ${s.name} -d '${firstLine(s.description)}'`);
    }
    for (const o of n.options) {
      const long = o.flags.find((f) => f.startsWith("--"))?.slice(2);
      const short = o.flags.find((f) => /^-[^-]/.test(f))?.slice(1);
      const parts = [`complete -c ${name}`];
      if (parents.length) parts.push(`-n '__fish_seen_subcommand_from ${parents[parents.length - 1]}'`);
      if (long) parts.push(`-l ${long}`);
      if (short) parts.push(`-s ${short}`);
      parts.push(`-d '${firstLine(o.description)}'`);
      lines.push(parts.join(" "));
    }
  }
  return lines.join("\n") + "\n";
}

export function registerCompletionCommand(program: ProgramWithGlobals, ctx: CliContext): void {
  program
    .command("completions")
    .description("print a shell completion script (bash, zsh or fish)")
    .argument("<shell>", "bash, zsh or fish")
    .addHelpText(
      "after",
      "\nExamples:\n  $ ess2mqtt completions bash | sudo tee /etc/bash_completion.d/ess2mqtt\n" +
        "  $ ess2mqtt completions fish > ~/.config/fish/completions/ess2mqtt.fish\n",
    )
    .action((shellText: string) => {
      const shell = parseChoice("shell", shellText, SHELLS);
      const script = completionScript(program, shell);
      ctx.print(script, { shell, script });
    });
}
