import { readFileSync } from 'node:fs';

/**
 * The fields of a /proc stat file (`/proc/<pid>/stat`, `/proc/self/task/<tid>/stat`) after
 * the command name, which may hold spaces and parentheses: index 0 is the state, 11 utime,
 * 12 stime, 16 the nice value (proc(5) numbers them from 3).
 */
export function procStatFields(path: string): string[] {
  const stat = readFileSync(path, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}
