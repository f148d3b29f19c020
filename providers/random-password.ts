/**
 * A password for a leaver's account that nobody, the daemon included, ever knows: drawn
 * from node:crypto, handed to one request, never stored, logged or put in evidence. At
 * least one character of each class, so the provider's complexity policy accepts it.
 */
import { randomInt } from 'node:crypto';

export function randomPassword(length: number, classes: readonly string[]): string {
  const all = classes.join('');
  const chars = classes.map((set) => set[randomInt(set.length)]!);
  while (chars.length < length) chars.push(all[randomInt(all.length)]!);
  // Fisher-Yates, so the guaranteed classes sit at no known position.
  for (let i = chars.length - 1; i > 0; i -= 1) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j]!, chars[i]!];
  }
  return chars.join('');
}
