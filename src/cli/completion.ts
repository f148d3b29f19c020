/**
 * `deprovisiond completion bash|zsh`: a completion script generated from the command
 * table, so it offers exactly the commands and options the parser accepts. zsh runs the
 * bash function through bashcompinit, which ships with zsh.
 */
import { COMMANDS } from './commands.ts';
import { UsageError } from './io.ts';
import { optionsOf, type CommandInput } from './spec.ts';

export async function completion({ positionals, io }: CommandInput): Promise<number> {
  const shell = positionals[0];
  if (positionals.length !== 1 || (shell !== 'bash' && shell !== 'zsh')) throw new UsageError('expected one shell: bash or zsh');
  io.out.write(shell === 'zsh' ? `autoload -U +X bashcompinit && bashcompinit\n${bashScript()}` : bashScript());
  return 0;
}

function bashScript(): string {
  const firstWords = [...new Set([...COMMANDS.map((c) => c.name.split(' ')[0]!), 'help'])];
  const flags = (name: string) =>
    Object.keys(optionsOf(COMMANDS.find((c) => c.name === name)!))
      .map((o) => `--${o}`)
      .join(' ');
  const cases = firstWords
    .filter((word) => word !== 'help')
    .map((word) => {
      const group = COMMANDS.filter((c) => c.name.startsWith(`${word} `));
      if (group.length === 0) return `    ${word}) words="${flags(word)}" ;;`;
      const subs = group.map((c) => c.name.split(' ')[1]).join(' ');
      const inner = group.map((c) => `${c.name.split(' ')[1]!}) words="${flags(c.name)}" ;;`).join(' ');
      return `    ${word}) if [ "$COMP_CWORD" -eq 2 ]; then words="${subs}"; else case "\${COMP_WORDS[2]}" in ${inner} esac; fi ;;`;
    });
  return `# deprovisiond completion: source it from ~/.bashrc (or ~/.zshrc for the zsh variant)
_deprovisiond() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" words=""
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "${firstWords.join(' ')} --help --version" -- "$cur"))
    return
  fi
  case "\${COMP_WORDS[1]}" in
${cases.join('\n')}
    help) words="${firstWords.filter((w) => w !== 'help').join(' ')}" ;;
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F _deprovisiond deprovisiond
`;
}
