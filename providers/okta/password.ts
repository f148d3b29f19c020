/**
 * A password for a leaver's account that nobody, the daemon included, ever knows: drawn
 * from node:crypto, handed to one request, never stored, logged or put in evidence.
 */
import { randomPassword as randomPasswordOf } from '../random-password.ts';

const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const DIGITS = '0123456789';
const SYMBOLS = '!#$%&()*+,-.:;<=>?@[]^_{|}~';

/** 40 characters; one of each class at least, so any Okta complexity policy accepts it. */
export const PASSWORD_LENGTH = 40;

export function randomPassword(): string {
  return randomPasswordOf(PASSWORD_LENGTH, [LOWER, UPPER, DIGITS, SYMBOLS]);
}
