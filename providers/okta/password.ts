/**
 * A password for a leaver's account that nobody, the daemon included, ever knows: drawn
 * from node:crypto, handed to one request, never stored, logged or put in evidence.
 */
import { randomInt } from 'node:crypto';

const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const DIGITS = '0123456789';
const SYMBOLS = '!#$%&()*+,-.:;<=>?@[]^_{|}~';
const ALL = LOWER + UPPER + DIGITS + SYMBOLS;

/** 40 characters; one of each class at least, so any Okta complexity policy accepts it. */
export const PASSWORD_LENGTH = 40;

export function randomPassword(): string {
  const pick = (set: string) => set[randomInt(set.length)]!;
  const chars = [pick(LOWER), pick(UPPER), pick(DIGITS), pick(SYMBOLS)];
  while (chars.length < PASSWORD_LENGTH) chars.push(pick(ALL));
  // Fisher-Yates, so the guaranteed classes sit at no known position.
  for (let i = chars.length - 1; i > 0; i -= 1) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j]!, chars[i]!];
  }
  return chars.join('');
}
