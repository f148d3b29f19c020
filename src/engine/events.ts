/**
 * Typed engine events. One subscriber turns them into metrics (bounded labels); the
 * demo turns them into progress lines. Adapters never see these.
 */
import { EventEmitter } from 'node:events';
import type { ReverifyOutcome } from '../domain/reverify.ts';
import type { TaskState, TerminationSource } from '../domain/types.ts';

export interface EngineEvents {
  /** `duplicate`: a true repeat answered from the store; `outcome`: what the request did (created, joined, rescheduled, superseded). */
  'termination:received': [{ source: TerminationSource; created: boolean; duplicate: boolean; outcome: string; state: string }];
  'termination:revoked': [{ terminationId: string; timeToRevokeMs: number }];
  'task:started': [{ terminationId: string; taskId: string; provider: string; action: string; attempt: number }];
  'task:finished': [
    {
      terminationId: string;
      taskId: string;
      provider: string;
      action: string;
      /** `pending` means the task went back to the queue (retry, rate limit or poll). */
      state: TaskState;
      retry: 'rate_limited' | 'error' | 'in_progress' | null;
      errorKind: string | null;
      durationMs: number;
      /** False when this worker had lost its lease and the outcome was discarded. */
      applied: boolean;
    },
  ];
  /** A re-verification's final result (`drift`: access is back; `remediating`: the action runs again). */
  'task:reverified': [
    { terminationId: string; taskId: string; provider: string; action: string; outcome: ReverifyOutcome; remediating: boolean },
  ];
  'provider:rate_limited': [{ provider: string; retryAfterMs: number }];
  /** A heartbeat found another worker holding a task this worker was running. */
  'task:lease_lost': [{ taskId: string }];
  /** The attempt worker thread ended without being asked to; the next attempt starts a new one. */
  'attempt_thread:exited': [{ code: number; attemptsLost: number }];
}

export class EngineEventBus extends EventEmitter<EngineEvents> {}
