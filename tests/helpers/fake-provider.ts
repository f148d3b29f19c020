/**
 * A scripted provider for engine tests: each action follows a script of steps; calls are
 * recorded so a test can assert what ran, in which order, and how often.
 */
import type { AccountRef, ActionHandler, ExecuteResult, Provider } from '../../providers/contract.ts';
import type { ActionName, JsonObject } from '../../src/domain/types.ts';

export type Step =
  | { kind: 'ok' }
  | { kind: 'throw'; error: Error }
  | { kind: 'hang'; ms: number }
  | { kind: 'inProgress'; checkAfterMs: number }
  | { kind: 'verifyFails'; error: Error };

export interface Call {
  action: ActionName;
  phase: 'resolve' | 'execute' | 'verify';
  at: number;
  checkpoint: JsonObject | null;
}

export class FakeProvider implements Provider {
  readonly kind = 'fake';
  readonly calls: Call[] = [];
  readonly scripts = new Map<ActionName, Step[]>();
  readonly actions: Partial<Record<ActionName, ActionHandler>> = {};
  hasAccount = true;
  /** How many times the engine looked the subject up. */
  resolves = 0;

  constructor(
    readonly name: string,
    supported: ActionName[],
  ) {
    for (const action of supported) this.actions[action] = this.handler(action);
  }

  /** Steps consumed one per execute; when the script runs out, every call succeeds. */
  script(action: ActionName, ...steps: Step[]): this {
    this.scripts.set(action, steps);
    return this;
  }

  executions(action?: ActionName): number {
    return this.calls.filter((c) => c.phase === 'execute' && (!action || c.action === action)).length;
  }

  async resolve(): Promise<AccountRef | null> {
    this.resolves += 1;
    return this.hasAccount ? { id: 'acct-1' } : null;
  }

  private handler(action: ActionName): ActionHandler {
    let pendingVerifyError: Error | null = null;
    return {
      execute: async (_account, ctx): Promise<ExecuteResult> => {
        this.calls.push({ action, phase: 'execute', at: Date.now(), checkpoint: ctx.checkpoint });
        const step = this.scripts.get(action)?.shift() ?? { kind: 'ok' };
        switch (step.kind) {
          case 'throw':
            throw step.error;
          case 'hang':
            await new Promise((resolve) => setTimeout(resolve, step.ms));
            break;
          case 'inProgress':
            return {
              evidence: { polling: true },
              inProgress: { checkAfterMs: step.checkAfterMs, checkpoint: { polls: ((ctx.checkpoint?.polls as number) ?? 0) + 1 } },
            };
          case 'verifyFails':
            pendingVerifyError = step.error;
            break;
          case 'ok':
            break;
        }
        return { evidence: { done: action } };
      },
      verify: async (_account, _ctx) => {
        this.calls.push({ action, phase: 'verify', at: Date.now(), checkpoint: null });
        if (pendingVerifyError) {
          const error = pendingVerifyError;
          pendingVerifyError = null;
          throw error;
        }
        return { verified: action };
      },
    };
  }
}
