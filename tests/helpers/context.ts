import type { ActionContext } from '../../providers/contract.ts';
import type { Subject } from '../../src/domain/types.ts';
import { silentLogger } from '../../src/telemetry/logger.ts';

let counter = 0;

/** A subject no sandbox has seen before. */
export function freshSubject(prefix = 'user'): Subject {
  counter += 1;
  const name = `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter}@example.com`;
  return { externalId: `E-${process.pid}-${counter}`, userName: name, emails: [name], displayName: name.split('@')[0] };
}

export function actionContext(subject: Subject, overrides: Partial<ActionContext> = {}): ActionContext {
  return {
    signal: new AbortController().signal,
    logger: silentLogger(),
    now: () => new Date(),
    params: {},
    subject,
    terminationId: 'test-termination',
    effectiveAt: new Date(),
    taskId: 'test-task',
    attempt: 1,
    attemptStartedAt: new Date(),
    checkpoint: null,
    ...overrides,
  };
}
