/**
 * The `rest` adapter against the in-house sandbox, beyond the conformance suite: a data
 * export whose start answer is lost is not started twice (the task id travels as the
 * Idempotency-Key and the system answers the first export again), and the sandbox's refusals
 * reach the engine as typed errors.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Provider } from '../providers/contract.ts';
import { restConfigSchema } from '../providers/rest/config.ts';
import { restModule } from '../providers/rest/index.ts';
import type { RunningInhouseSandbox } from '../providers/rest/sandbox.ts';
import { startInhouseSandbox } from '../providers/rest/sandbox.ts';
import { PermanentError, TransientError } from '../src/domain/errors.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { actionContext, freshSubject } from './helpers/context.ts';
import { executeToCompletion } from './conformance/suite.ts';

describe('rest adapter against the in-house sandbox', () => {
  let sandbox: RunningInhouseSandbox;
  let provider: Provider;

  beforeAll(async () => {
    sandbox = await startInhouseSandbox({ autoProvision: true });
    provider = restModule.create(restConfigSchema.parse(restModule.sandboxConfig(sandbox)), { name: 'inhouse', logger: silentLogger() });
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  it('an export whose start answer was lost is started once: the retry gets the same export by its Idempotency-Key', async () => {
    const subject = freshSubject('export');
    const ctx = actionContext(subject, { taskId: 'task-export-1' });
    const account = (await provider.resolve(subject, ctx))!;
    sandbox.control.loseAnswers('POST', /\/exports$/);
    await expect(provider.actions.export_data!.execute(account, ctx)).rejects.toBeInstanceOf(TransientError);
    const retry = await executeToCompletion(provider, 'export_data', account, { ...ctx, attempt: 2 });
    expect(retry.evidence).toMatchObject({ jobDone: true });
    const tenant = sandbox.state.tenants.get(account.id)!;
    expect(tenant.exports).toHaveLength(1);
    expect(sandbox.control.writes.get(`export:${account.id}`)).toBe(1);
    expect(await provider.actions.export_data!.verify(account, ctx)).toEqual({
      condition: true,
      readyExports: 1,
      downloadLinkPresent: true,
    });
  });

  it('an export after the data was deleted is refused for good (409)', async () => {
    const subject = freshSubject('export');
    const account = (await provider.resolve(subject, actionContext(subject)))!;
    await executeToCompletion(provider, 'delete_account', account, actionContext(subject, { taskId: 'task-delete' }));
    const error = await provider.actions
      .export_data!.execute(account, actionContext(subject, { taskId: 'task-export-2' }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toBe('inhouse export_data: HTTP 409');
  });
});
