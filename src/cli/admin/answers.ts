/**
 * The admin API's answers as the CLI reads them: parsed JSON, so times are ISO strings, and
 * only the fields the CLI prints (`--json` prints the whole answer as it came). Typed here so
 * a field the API renames is a compile error in the command that reads it, not "undefined"
 * on an operator's terminal.
 */
import type { JsonObject, Subject } from '../../domain/types.ts';

export interface TerminationView {
  id: string;
  state: string;
  subject: Subject;
  subjectKey: string;
  source: string;
  playbook: string;
  createdBy: string;
  reason: string | null;
  requestedAt: string;
  effectiveAt: string;
  revokedAt: string | null;
  finishedAt: string | null;
}

export interface TaskView {
  id: string;
  stepId: string;
  provider: string;
  action: string;
  state: string;
  critical: boolean;
  attempts: number;
  notBefore: string;
  lastError: { kind: string; message: string } | null;
  /** An asynchronous step's progress; its `waitingFor` says what it waits for. */
  checkpoint?: JsonObject | null;
}

/** GET /terminations/{id}. */
export interface TerminationDetail {
  termination: TerminationView;
  tasks: TaskView[];
  /** Absent from daemons older than legal holds. */
  legalHolds?: LegalHoldView[];
  heldByLegalHold?: Array<{ taskId: string; stepId: string; holds: string[] }>;
}

/** GET /terminations. */
export interface TerminationPage {
  items: TerminationView[];
  nextCursor: string | null;
}

/** POST /terminations. */
export interface Created {
  terminationId: string;
  state: string;
  duplicate: boolean;
}

export interface PlannedTask {
  stepId: string;
  provider: string;
  action: string;
  dependsOn: string[];
  notBefore: string;
  critical: boolean;
}

/** POST /terminations?dryRun=true. */
export interface Planned {
  plan: { subjectKey: string; playbook: string; rule?: string | null; effectiveAt: string; tasks: PlannedTask[] };
  existingTerminationId: string | null;
}

/** cancel, approve. */
export interface TerminationChanged {
  termination: TerminationView;
}

/** replay. */
export interface Replayed extends TerminationChanged {
  replayed: TaskView[];
}

/** reverify: the re-verifications queued, one per verified task. */
export interface ReverifyQueued extends TerminationChanged {
  queued: Array<{ id: string; taskId: string; provider: string; action: string; dueAt: string }>;
}

/** reverify --since: how many terminations, and the re-verifications queued for them. */
export interface ReverifySinceQueued {
  since: string;
  terminations: number;
  queued: ReverifyQueued['queued'];
}

/** sweep: subjects terminated in the window with drift found or a read-back still due. */
export interface SweepReport {
  since: string;
  items: Array<{
    terminationId: string;
    subject: string;
    terminationState: string;
    requestedAt: string;
    status: 'drift' | 'pending';
    drift: string[];
    pending: string[];
    lastCheckedAt: string | null;
  }>;
}

/** waive, complete. */
export interface TaskChanged extends TerminationChanged {
  task: TaskView;
}

/** approve --all-held. */
export interface ApprovedHeld {
  approved: unknown[];
}

/** A legal hold as the API answers it (src/domain/legal-hold.ts, dates as ISO strings). */
export interface LegalHoldView {
  id: string;
  subjectKeys: string[];
  terminationId: string | null;
  reason: string;
  placedBy: string;
  placedAt: string;
  releasedBy: string | null;
  releasedAt: string | null;
}

interface HeldTaskView {
  taskId: string;
  terminationId: string;
  provider: string;
  action: string;
  stepId: string;
}

export interface PlacedHoldView {
  hold: LegalHoldView;
  terminations: string[];
  alreadyRunning: HeldTaskView[];
  alreadyDone: HeldTaskView[];
}
