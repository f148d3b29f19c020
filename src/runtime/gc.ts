/**
 * How V8 collects the young generation in the daemon's process. By default each scavenge
 * is split across V8's helper threads (Node starts four); the daemon's young generations
 * are small (4 MB semi-spaces in the image, for the memory target), so scavenges come
 * often and each one wakes every helper for little work. On a busy host that is CPU that
 * intake and provider requests wanted: in the intake benchmark, engine running, scavenges
 * on the allocating thread gave about 7 % more requests per second and 5 % less CPU per
 * request (medians of six alternating pairs; one run's noise is larger), and the mass
 * termination did not change (docs/benchmarks.md). Marking of the old generation stays
 * concurrent.
 *
 * The flag cannot go in NODE_OPTIONS (Node refuses it there), so `serve` sets it as it
 * starts; V8 reads it at every scavenge, in every thread of the process. An operator who
 * put `--parallel-scavenge` or `--no-parallel-scavenge` on node's command line keeps it.
 */
import { setFlagsFromString } from 'node:v8';

export type ScavengeMode = 'serial (daemon default)' | 'as given on the node command line';

export function preferSerialScavenges(execArgv: readonly string[] = process.execArgv): ScavengeMode {
  if (execArgv.some((arg) => /^--(no-)?parallel[-_]scavenge$/.test(arg))) return 'as given on the node command line';
  setFlagsFromString('--no-parallel-scavenge');
  return 'serial (daemon default)';
}
