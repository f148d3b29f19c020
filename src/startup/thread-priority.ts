/**
 * CPU priority of one thread (engine.providerThreadNice, off by default). Linux keeps a
 * nice value per thread, so the attempt worker thread can step back behind the daemon's
 * thread (intake, the store, scheduling) without touching the process: when both want the
 * CPU, the acknowledgement a SCIM client or HRIS waits for goes first, and provider
 * requests take the cycles left over. An idle CPU runs both at full speed; nice decides
 * nothing then. Why it is off by default: docs/architecture.md.
 */
import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

export type ThreadPriority = { tid: number; nice: number } | { unsupported: string };

/**
 * Lowers the calling thread's priority by `increment` nice steps (capped at 19, the
 * lowest). Threads it starts afterwards inherit the value: call it before anything that
 * could start one on its behalf. Lowering needs no privilege, but a sandbox (seccomp) may
 * refuse it: the thread then runs on at its priority and the result says why.
 */
export function lowerThreadPriority(increment: number): ThreadPriority {
  let tid: number;
  try {
    // "<pid>/task/<tid>": the kernel's id of the calling thread (Node has no gettid).
    tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
  } catch {
    return { unsupported: 'per-thread priority needs Linux (/proc/thread-self)' };
  }
  try {
    if (increment > 0) setPriority(tid, Math.min(19, getPriority(tid) + increment));
    return { tid, nice: getPriority(tid) };
  } catch (error) {
    return { unsupported: `setpriority refused: ${(error as NodeJS.ErrnoException).code ?? 'unknown error'}` };
  }
}
