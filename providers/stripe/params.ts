/**
 * The playbook step's params of each action, checked before anything is sent: they come
 * from config, but a typo must fail the step with a clear message, not cancel the wrong way.
 */
import { z } from 'zod';
import { durationSchema } from '../../src/config/duration.ts';
import { PermanentError } from '../contract.ts';
import type { JsonObject } from '../../src/domain/types.ts';
import { STRIPE_ID, type RefundTarget } from './client.ts';

const cancelParamsSchema = z
  .object({
    /** `period_end` (default): the client keeps what they paid for until the period ends; `now`: ends at once. */
    at: z.enum(['period_end', 'now']).default('period_end'),
    /** With `at: now`: invoice pending usage and prorations at once (Stripe's `invoice_now`). Default false. */
    invoiceNow: z.boolean().default(false),
    /** With `at: now`: credit the unused part of the period (Stripe's `prorate`). Default false. */
    prorate: z.boolean().default(false),
  })
  .strict();
export type CancelParams = z.output<typeof cancelParamsSchema>;

const refundSchema = z
  .object({
    /** In the currency's minor units (cents), as Stripe counts. */
    amount: z.number().int().positive().max(99_999_999),
    currency: z
      .string()
      .regex(/^[A-Za-z]{3}$/)
      .transform((c) => c.toLowerCase()),
    charge: z.string().regex(STRIPE_ID.charge).optional(),
    payment_intent: z.string().regex(STRIPE_ID.paymentIntent).optional(),
  })
  .strict()
  .refine((r) => (r.charge === undefined) !== (r.payment_intent === undefined), { error: 'name exactly one of charge and payment_intent' });

const settleParamsSchema = z
  .object({
    /** The refund agreed with the client, issued once. Default none. */
    refund: refundSchema.optional(),
    /** How often to read the invoices again while money is owed. Default: the provider's `checkEvery` (1 h). */
    checkEvery: durationSchema
      .pipe(
        z
          .number()
          .int()
          .min(1000)
          .max(30 * 86_400_000),
      )
      .optional(),
    /**
     * Payment agreed within this long of the first check that found money owed; past it the
     * step is reported overdue. Default none: money owed is overdue from the first check.
     */
    overdueAfter: durationSchema
      .pipe(
        z
          .number()
          .int()
          .max(3650 * 86_400_000),
      )
      .optional(),
  })
  .strict();

export interface SettleParams {
  refund: { amount: number; currency: string; target: RefundTarget } | null;
  checkEveryMs: number | null;
  overdueAfterMs: number | null;
}

function parsed<T>(schema: z.ZodType<T>, params: JsonObject, action: string): T {
  const result = schema.safeParse(params);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new PermanentError(
      `Stripe ${action}: invalid params at ${issue && issue.path.length > 0 ? issue.path.join('.') : '(root)'}: ${issue?.message ?? 'invalid'}`,
    );
  }
  return result.data;
}

export function cancelParams(params: JsonObject): CancelParams {
  return parsed(cancelParamsSchema, params, 'cancel_subscriptions');
}

export function settleParams(params: JsonObject): SettleParams {
  const p = parsed(settleParamsSchema, params, 'settle_billing');
  const refund = p.refund
    ? {
        amount: p.refund.amount,
        currency: p.refund.currency,
        target: p.refund.charge ? { charge: p.refund.charge } : { payment_intent: p.refund.payment_intent! },
      }
    : null;
  return { refund, checkEveryMs: p.checkEvery ?? null, overdueAfterMs: p.overdueAfter ?? null };
}
