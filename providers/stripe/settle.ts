/**
 * settle_billing: the agreed refund issued once, and no invoice left owing. While money is
 * owed the step neither fails nor succeeds: execute answers `inProgress` (no worker slot held)
 * and reads the invoices again every `checkEvery`, and the checkpoint's `waitingFor` says what
 * is owed and since when, which the console, the CLI and the evidence show beside the step.
 */
import type { AccountRef, ActionContext, ActionHandler, Evidence, ExecuteResult } from '../contract.ts';
import type { JsonObject } from '../../src/domain/types.ts';
import { PermanentError, VerificationError } from '../contract.ts';
import { REFUND_TASK_KEY, type StripeApi, type StripeInvoice, type StripeRefund } from './client.ts';
import { OUTSTANDING_STATUSES, outstandingOf, waitingText } from './outstanding.ts';
import { settleParams, type SettleParams } from './params.ts';

/** Refund statuses that mean the money is, or is on its way, back with the client. */
const REFUND_DONE = ['succeeded', 'pending'];

export function settleBilling(api: StripeApi, defaultCheckEveryMs: number): ActionHandler {
  async function owed(customer: string, ctx: ActionContext): Promise<StripeInvoice[]> {
    const invoices: StripeInvoice[] = [];
    for (const status of OUTSTANDING_STATUSES) invoices.push(...(await api.invoices(customer, status, ctx)));
    return invoices.filter((i) => i.amountRemaining > 0);
  }

  /** The refund this task asked for, found by the metadata it carries (after a lost answer, a takeover, or 24 h). */
  async function ownRefund(refund: NonNullable<SettleParams['refund']>, ctx: ActionContext): Promise<StripeRefund | null> {
    return (await api.refunds(refund.target, ctx)).find((r) => r.taskId === ctx.taskId) ?? null;
  }

  async function issueRefund(refund: NonNullable<SettleParams['refund']>, account: AccountRef, ctx: ActionContext): Promise<JsonObject> {
    const before = await ownRefund(refund, ctx);
    const issued =
      before ??
      (await api.createRefund(
        refund.target,
        refund.amount,
        { [REFUND_TASK_KEY]: ctx.taskId, deprovisiond_termination: ctx.terminationId },
        // Per task and target: another task's refund, or this task's to another charge, is another request.
        `deprovisiond-${ctx.taskId}-refund-${'charge' in refund.target ? refund.target.charge : refund.target.payment_intent}`,
        ctx,
      ));
    if (issued.status === 'failed' || issued.status === 'canceled') {
      throw new PermanentError(
        `Stripe settle_billing: the agreed refund ${issued.id} is ${issued.status} at Stripe; an operator decides what next`,
      );
    }
    if (issued.currency !== refund.currency || issued.amount !== refund.amount) {
      throw new PermanentError(
        `Stripe settle_billing: refund ${issued.id} is ${issued.amount} ${issued.currency}, not the agreed ${refund.amount} ${refund.currency}`,
      );
    }
    return {
      id: issued.id,
      status: issued.status,
      amount: issued.amount,
      currency: issued.currency,
      customer: account.id,
      alreadyDone: before !== null,
    };
  }

  return {
    async execute(account, ctx): Promise<ExecuteResult> {
      const params = settleParams(ctx.params);
      const previous = ctx.checkpoint ?? {};
      // A refund recorded by an earlier poll of this task is not looked for again.
      const recorded =
        typeof previous.refund === 'object' && previous.refund !== null && !Array.isArray(previous.refund) ? previous.refund : null;
      const refund = params.refund ? (recorded ?? (await issueRefund(params.refund, account, ctx))) : null;
      const invoices = await owed(account.id, ctx);
      const now = ctx.now();
      const evidence: JsonObject = { customer: account.id, ...(refund ? { refund } : {}) };
      if (invoices.length === 0) {
        const refundFound = refund?.alreadyDone === true;
        return { evidence: { ...evidence, outstandingInvoices: 0, alreadyDone: params.refund ? refundFound : true } };
      }
      const outstanding = outstandingOf(invoices);
      // Carried from the first check that found money owed; anything unreadable starts the count again.
      const carried = typeof previous.owingSince === 'string' ? Date.parse(previous.owingSince) : Number.NaN;
      const owingSince = Number.isNaN(carried) ? now.toISOString() : new Date(carried).toISOString();
      const deadline = params.overdueAfterMs === null ? null : new Date(Date.parse(owingSince) + params.overdueAfterMs);
      const overdue = deadline === null || deadline.getTime() <= now.getTime();
      const checkpoint: JsonObject = {
        waitingFor: waitingText(outstanding, deadline, now),
        overdue,
        owingSince,
        deadline: deadline?.toISOString() ?? null,
        outstanding,
        checkedAt: now.toISOString(),
        ...(refund ? { refund } : {}),
      };
      return {
        evidence: { ...evidence, waitingFor: checkpoint.waitingFor as string, overdue, outstanding },
        inProgress: { checkAfterMs: params.checkEveryMs ?? defaultCheckEveryMs, checkpoint },
      };
    },

    async verify(account, ctx): Promise<Evidence> {
      const params = settleParams(ctx.params);
      const invoices = await owed(account.id, ctx);
      const observed: JsonObject = { customer: account.id, outstandingInvoices: invoices.length };
      if (params.refund) {
        const refund = await ownRefund(params.refund, ctx);
        observed.refund = refund
          ? { id: refund.id, status: refund.status, amount: refund.amount, currency: refund.currency }
          : 'none found';
        if (!refund) throw new VerificationError('Stripe settle_billing: the agreed refund is not found at Stripe', observed);
        if (!REFUND_DONE.includes(refund.status) || refund.amount !== params.refund.amount || refund.currency !== params.refund.currency) {
          throw new VerificationError(
            `Stripe settle_billing: refund ${refund.id} is ${refund.status}, ${refund.amount} ${refund.currency}`,
            observed,
          );
        }
      }
      if (invoices.length > 0) {
        const outstanding = outstandingOf(invoices);
        throw new VerificationError(`Stripe settle_billing: ${waitingText(outstanding, null, ctx.now())}`, { ...observed, outstanding });
      }
      return observed;
    },
  };
}
