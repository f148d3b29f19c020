/**
 * An attempt request as the engine hands it to an AttemptRunner: a claimed task (its attempt
 * counted at the claim) of a running termination, with a lease window that holds unless
 * the test says otherwise.
 */
import { randomUUID } from 'node:crypto';
import { configSchema } from '../../src/config/schema.ts';
import type { Subject, Task, Termination } from '../../src/domain/types.ts';
import type { AttemptRequest } from '../../src/engine/attempts.ts';
import { monotonicMs } from '../../src/engine/lease-fence.ts';
import type { ProviderSpec } from '../../src/startup/provider-setup.ts';
import { oktaModule } from '../../providers/okta/index.ts';
import { oktaKind } from '../../providers/okta/kind.ts';
import type { RunningSandbox } from '../../providers/sandbox/kit.ts';

/** Attempts here record the account they find as if the claim still held the task. */
export const recordingHooks = { recordAccount: async () => true };

/** An Okta sandbox and the provider spec that points an adapter at it. */
export async function oktaSandboxSpec(): Promise<{ sandbox: RunningSandbox; spec: ProviderSpec }> {
  const sandbox = await oktaModule.startSandbox({ autoProvision: true });
  return {
    sandbox,
    spec: { name: 'okta', kind: 'okta', settings: oktaKind.sandboxConfig(sandbox), limits: { concurrency: 4 }, sandboxUrl: sandbox.url },
  };
}

export interface AttemptRequestOptions {
  action: Task['action'];
  provider?: string;
  email?: string;
  subject?: (email: string) => Subject;
  maxAttempts?: number;
  /** How much of the lease is left, and the margin a request needs. Default 60 s and 1 s. */
  leaseLeftMs?: number;
  marginMs?: number;
}

export function attemptRequest(options: AttemptRequestOptions): AttemptRequest {
  const now = new Date();
  const email = options.email ?? `${randomUUID()}@example.com`;
  const termination: Termination = {
    id: randomUUID(),
    source: 'admin',
    sourceEventId: null,
    subjectKey: `email:${email}`,
    subject: options.subject ? options.subject(email) : { emails: [email] },
    reason: null,
    playbook: 'default',
    state: 'running',
    requestedAt: now,
    effectiveAt: now,
    revokedAt: null,
    finishedAt: null,
    createdBy: 'test',
  };
  const task: Task = {
    id: randomUUID(),
    terminationId: termination.id,
    stepId: options.action,
    provider: options.provider ?? 'okta',
    action: options.action,
    params: {},
    critical: true,
    dependsOn: [],
    notBefore: now,
    state: 'running',
    // Counted when claimed: the attempt about to run.
    attempts: 1,
    rateLimitedCount: 0,
    nextAttemptAt: now,
    leaseOwner: 'test',
    leaseToken: 'token',
    leaseExpiresAt: null,
    account: null,
    checkpoint: null,
    lastError: null,
    evidence: null,
    startedAt: now,
    finishedAt: null,
  };
  const policy = configSchema.shape.engine.parse(
    options.maxAttempts === undefined ? {} : { retry: { maxAttempts: options.maxAttempts } },
  ).retry;
  return {
    task,
    termination,
    worker: 'test',
    policy,
    attemptTimeoutMs: 10_000,
    lease: { deadline: monotonicMs() + (options.leaseLeftMs ?? 60_000), marginMs: options.marginMs ?? 1_000 },
  };
}
