/**
 * Ids of the rows the store writes most (terminations, tasks, directory users).
 *
 * Time-ordered (UUID version 7, RFC 9562): the primary-key index of each table grows at its
 * right edge, so the rows a commit inserts share a few index pages instead of each dirtying
 * a random one. With random (version 4) ids every SQLite group commit wrote a page per new
 * task to the WAL; with these the intake benchmark's COMMIT and task INSERT took about 40 %
 * less time (docs/benchmarks.md). The 74 random bits are not a secret: ids name rows, they
 * grant nothing, and every endpoint that takes one is authenticated.
 */
import { v7 } from 'uuid';

export function newId(): string {
  return v7();
}
