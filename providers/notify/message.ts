/**
 * What a notification says. Built from identifiers only: no reason text from the HRIS
 * (it may be sensitive), no error messages beyond their kind, no secrets.
 */
import type { JsonObject, Subject } from '../../src/domain/types.ts';

export type NotifyEvent = 'started' | 'revoked' | 'failed' | 'held' | 'custom';

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
  };
}
