/**
 * The Stripe adapter passes the shared conformance suite against its emulator, both
 * actions: cancel_subscriptions at the period's end (an update, harmless to repeat) and at
 * once (a DELETE, which takes no idempotency key at Stripe: read first), and settle_billing
 * with an agreed refund (a POST that a key protects for 24 h only: read first, by the task's
 * metadata on the refund).
 */
import { stripeModule } from '../providers/stripe/index.ts';
import { stripeConfigSchema } from '../providers/stripe/config.ts';
import type { RunningStripeSandbox } from '../providers/stripe/sandbox.ts';
import type { JsonObject } from '../src/domain/types.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { runConformance } from './conformance/suite.ts';

for (const at of ['period_end', 'now'] as const) {
  let sandbox: RunningStripeSandbox;
  runConformance({
    kind: 'stripe',
    actions: ['cancel_subscriptions', 'settle_billing'],
    async start() {
      sandbox = (await stripeModule.startSandbox({ autoProvision: true })) as RunningStripeSandbox;
      const config = stripeConfigSchema.parse(stripeModule.sandboxConfig(sandbox));
      const provider = stripeModule.create(config, { name: `stripe-${at}`, logger: silentLogger() });
      const badCredentials = stripeModule.create(
        { ...config, apiKey: 'sk_test_notTheSandboxKey' },
        { name: 'stripe-bad', logger: silentLogger() },
      );
      return { sandbox, provider, badCredentials };
    },
    params(action): JsonObject {
      if (action === 'cancel_subscriptions') return { at };
      // Each case refunds a charge of its own: the suite's tasks share one task id.
      const { charges } = sandbox.seedCustomer({ subscriptions: 0, charges: [{ amount: 5000, currency: 'eur' }] });
      return { refund: { amount: 1200, currency: 'EUR', charge: charges[0]!.id } };
    },
    readFirstWrites: {
      cancel_subscriptions: at === 'now' ? [{ method: 'DELETE', path: /^\/v1\/subscriptions\/sub_/ }] : [],
      settle_billing: [{ method: 'POST', path: /^\/v1\/refunds$/ }],
    },
    // Stripe's 429 names no delay: the adapter waits one second, whatever the emulator was told.
    rateLimitDelayMs: 1000,
    rateLimitToleranceMs: 0,
  });
}
