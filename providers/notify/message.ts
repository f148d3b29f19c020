/**
 * What a notification says. Built from identifiers only: no reason text from the HRIS
 * (it may be sensitive), no error messages beyond their kind, no secrets.
 */
import type { JsonObject, Subject } from '../../src/domain/types.ts';

export type NotifyEvent = 'started' | 'revoked' | 'failed' | 'held' | 'drift' | 'overdue' | 'custom';

export interface NotificationInput {
  terminationId: string;
  subject: Subject;
  params: JsonObject;
}

/** The step's `event` param; anything but a string (the playbook's YAML is hand-written) is `custom`. */
export function notifyEvent(params: JsonObject): NotifyEvent {
  return (typeof params.event === 'string' ? params.event : 'custom') as NotifyEvent;
}

export function notificationBody(format: 'slack' | 'json', input: NotificationInput): JsonObject {
  const event = notifyEvent(input.params);
  const who =
    input.subject.displayName ?? input.subject.userName ?? input.subject.emails[0] ?? input.subject.externalId ?? 'unknown subject';
  const failed = typeof input.params.failedStep === 'string' ? input.params.failedStep : null;
  const text =
    typeof input.params.text === 'string'
      ? input.params.text
      : event === 'started'
        ? `Offboarding started for ${who}.`
        : event === 'revoked'
          ? `Access revoked for ${who}: every critical step verified.`
          : event === 'failed'
            ? `Offboarding of ${who} needs attention: step ${failed ?? '(unknown)'} failed${typeof input.params.errorKind === 'string' ? ` (${input.params.errorKind})` : ''}.`
            : event === 'drift'
              ? driftText(who, input.params)
              : event === 'overdue'
                ? overdueText(who, input.params)
                : event === 'held'
                  ? `Offboarding of ${who} is held by the blast-radius brake: too many terminations at once. An operator must approve it.`
                  : `Offboarding update for ${who}.`;
  if (format === 'slack') return { text: `${text} Termination ${input.terminationId}.` };
  return {
    type: `deprovisiond.termination.${event}`,
    terminationId: input.terminationId,
    subject: { externalId: input.subject.externalId ?? null, userName: input.subject.userName ?? null },
    text,
    ...(failed ? { failedStep: failed } : {}),
    // Drift: which step, and the provider's own state fields its read-back saw (what changed).
    ...(event === 'drift' ? { driftStep: input.params.driftStep ?? null, observed: input.params.observed ?? null } : {}),
    // Overdue: which step waits, and for what (money owed: invoices, amount, since when).
    ...(event === 'overdue' ? { overdueStep: input.params.overdueStep ?? null, waitingFor: input.params.waitingFor ?? null } : {}),
  };
}

/** "Access came back": a re-verification found what a step had revoked in place again. */
function driftText(who: string, params: JsonObject): string {
  const step = typeof params.driftStep === 'string' ? params.driftStep : '(unknown)';
  const where = typeof params.provider === 'string' && typeof params.action === 'string' ? ` (${params.provider} ${params.action})` : '';
  const next = params.remediating === true ? 'it is being run again' : 'nothing is run again: check the account and replay the step';
  return `Access came back for ${who}: re-verification of step ${step}${where} found it undone; ${next}.`;
}

/** "Still owed": a waiting step passed its agreed deadline; it keeps waiting (nothing failed). */
function overdueText(who: string, params: JsonObject): string {
  const step = typeof params.overdueStep === 'string' ? params.overdueStep : '(unknown)';
  const what = typeof params.waitingFor === 'string' ? ` (${params.waitingFor})` : '';
  return `Offboarding of ${who} is overdue: step ${step} still waits${what}; it stays open until settled or waived.`;
}
