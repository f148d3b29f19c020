/**
 * The records-retention job (issue 29, docs/privacy.md): erases the personal data of
 * terminations whose playbook's period ran out, and carries out erasure requests that are
 * due. It works from the store alone (finished_at + period, the requests' due times), so a
 * restart loses nothing: the first pass after it finds whatever fell due meanwhile. Like the
 * audit pruner it runs at start and on a slow timer; on several replicas each erasure is its
 * own transaction under the termination's lock, and a second replica's attempt is refused
 * as erased already.
 */
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import { coerceError } from '../domain/errors.ts';
import type { KeepPersonalData, Store } from '../store/store.ts';

/** The actor of the job's erasures in the audit log and the receipts. */
export const RETENTION_ACTOR = 'engine:retention';
/** Terminations erased per pass: a backlog is worked off over a few passes, never in one long burst. */
const BATCH = 100;

export interface RetentionJobOptions {
  store: Store;
  /** Personal-data period per playbook (src/config/retention.ts). */
  periods: ReadonlyMap<string, number>;
  keep: KeepPersonalData;
  intervalMs: number;
  logger: Logger;
  now?: () => Date;
  /** Where its gauge and counter go (the daemon's /metrics). */
  registry?: Registry;
}

export interface RetentionPass {
  erased: number;
  held: number;
  requests: number;
}

export class RetentionJob {
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<RetentionPass> | null = null;
  readonly #erasures: Counter<'scope'> | null;

  constructor(private readonly options: RetentionJobOptions) {
    const { registry, store } = options;
    this.#erasures = registry
      ? new Counter({
          name: 'deprovisiond_retention_erasures_total',
          help: 'Erasures the retention job carried out: personal-data periods that ran out (retention) and erasure requests (request).',
          labelNames: ['scope'],
          registers: [registry],
        })
      : null;
    if (registry) {
      this.#erasures?.inc({ scope: 'retention' }, 0);
      this.#erasures?.inc({ scope: 'request' }, 0);
      new Gauge({
        name: 'deprovisiond_retention_held_terminations',
        help: 'Terminations whose personal-data period ran out but that a legal hold in force keeps from erasure.',
        registers: [registry],
        async collect() {
          this.set(await store.retentionHeldCount());
        },
      });
    }
  }

  start(): void {
    void this.runOnce();
    this.#timer = setInterval(() => void this.runOnce(), this.options.intervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#running?.catch(() => undefined);
  }

  /** One pass; a pass under way is joined rather than started twice. */
  runOnce(): Promise<RetentionPass> {
    this.#running ??= this.pass().finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  private async pass(): Promise<RetentionPass> {
    const { store, logger } = this.options;
    const now = this.options.now?.() ?? new Date();
    const result: RetentionPass = { erased: 0, held: 0, requests: 0 };
    try {
      const due = this.options.periods.size > 0 ? await store.dueForRetention(this.options.periods, now, BATCH) : [];
      for (const id of due) {
        const outcome = await store.eraseForRetention(id, RETENTION_ACTOR);
        if ('erased' in outcome) {
          result.erased += 1;
          this.#erasures?.inc({ scope: 'retention' });
          logger.info({ terminationId: id, erasureId: outcome.erased.receipt.erasureId }, 'personal data erased: retention period ended');
        } else if ('held' in outcome) {
          result.held += 1;
          if (outcome.noted > 0)
            logger.info({ terminationId: id, holds: outcome.held.map((h) => h.holdId) }, 'retention erasure kept by a legal hold');
        }
      }
      const requests = await store.runDueErasureRequests(now, RETENTION_ACTOR, this.options.keep, BATCH);
      for (const request of requests) {
        if (request.state !== 'done') continue;
        result.requests += 1;
        this.#erasures?.inc({ scope: 'request' });
        logger.info({ requestId: request.id, erasureId: request.erasureId }, 'erasure request carried out');
      }
    } catch (error) {
      logger.warn({ err: coerceError(error) }, 'retention pass failed; will try again');
    }
    return result;
  }
}
