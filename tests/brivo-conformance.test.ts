/**
 * The Brivo adapter passes the shared conformance suite against its emulator, looking
 * users up by externalId (the default) and through the email custom field.
 */
import { brivoModule } from '../providers/brivo/index.ts';
import { brivoConfigSchema } from '../providers/brivo/config.ts';
import { BRIVO_SANDBOX_EMAIL_FIELD_ID } from '../providers/brivo/sandbox.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { runConformance } from './conformance/suite.ts';
import { sandboxControl } from './helpers/sandbox-control.ts';

for (const lookup of [{ by: 'externalId' }, { by: 'customField', customFieldId: BRIVO_SANDBOX_EMAIL_FIELD_ID }] as const) {
  runConformance({
    kind: 'brivo',
    actions: ['deactivate_badge'],
    async start() {
      const sandbox = await brivoModule.startSandbox({ autoProvision: true });
      const config = brivoConfigSchema.parse({ ...brivoModule.sandboxConfig(sandbox), lookup });
      const provider = brivoModule.create(config, { name: `brivo-${lookup.by}`, logger: silentLogger() });
      const badCredentials = brivoModule.create({ ...config, password: 'not-the-password' }, { name: 'brivo-bad', logger: silentLogger() });
      return { sandbox, provider, badCredentials };
    },
    // Drift (issue 30), one way per run: the person unsuspended, or a card handed back to them.
    undo: {
      deactivate_badge: (account, sandbox) =>
        lookup.by === 'externalId'
          ? sandboxControl(sandbox.url, `/users/${account.id}/unsuspend`, {})
          : sandboxControl(sandbox.url, `/users/${account.id}/credentials`, { format: 'HID 26 bit Card' }),
    },
    rateLimitDelayMs: 2000,
    // Retry-After is in whole seconds.
    rateLimitToleranceMs: 1000,
  });
}
