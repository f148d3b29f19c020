/**
 * Attempts on a worker thread. The provider SDKs and their HTTP clients (request building,
 * JSON, sockets) are most of the engine's CPU; on the daemon's thread they queue behind
 * intake and the store on one core. Here they run on a second thread with its own event
 * loop, and only plain data crosses: the task and its termination going in, the outcome
 * coming back. The store, the scheduler, the gates and every event stay on the daemon's
 * thread, so nothing else changes: the worker thread never touches the store.
 *
 * Log lines are written by the worker's own pino (same level and redaction) and handed to
 * the daemon's log stream. If the worker thread dies, attempts in flight fail (their
 * leases then expire and the tasks are claimed again), the restart is counted in the
 * metrics, and the next attempt starts a new thread.
 */
import { Worker } from 'node:worker_threads';
import pino, { type Logger } from 'pino';
import type { JsonObject } from '../domain/types.ts';
import type { AttemptHooks, AttemptRequest, AttemptRunner } from '../engine/attempts.ts';
import type { EngineEventBus } from '../engine/events.ts';
import type { ProviderSpec, ProviderSummary } from './provider-setup.ts';
import type { AttemptResult } from '../engine/runner.ts';
import type { ThreadPriority } from './thread-priority.ts';

export interface AttemptThreadData {
  specs: ProviderSpec[];
  logLevel: string;
  /** Nice steps the thread lowers its own CPU priority by (engine.providerThreadNice). */
  niceIncrement: number;
}

export type ToWorker =
  | { type: 'validate' }
  | { type: 'run'; id: number; request: AttemptRequest }
  | { type: 'lease'; taskId: string; deadline: number | null }
  | { type: 'account-recorded'; id: number; held: boolean }
  | { type: 'abort' }
  | { type: 'close' };

export type FromWorker =
  | { type: 'created'; providers: ProviderSummary[]; priority: ThreadPriority }
  | { type: 'ready' }
  | { type: 'failed'; message: string }
  | { type: 'result'; id: number; result: AttemptResult }
  | { type: 'record-account'; id: number; account: JsonObject }
  | { type: 'crashed'; id: number; message: string }
  | { type: 'log'; line: string }
  | { type: 'closed' };

/** A .mjs entry: a worker thread starts without the tsx loader the daemon's thread registered. */
const ENTRY = new URL('./attempt-worker-entry.mjs', import.meta.url);
const CLOSE_TIMEOUT_MS = 10_000;
/**
 * The worker thread's old-space bound. It holds the adapters, their SDKs and the attempts
 * in flight (about 50 MB live in the mass-termination bench); past the bound it ends with
 * an out-of-memory error, its attempts fail and are retried, and a new thread starts.
 */
export const ATTEMPT_THREAD_OLD_SPACE_MB = 128;

interface Pending {
  resolve(result: AttemptResult): void;
  reject(error: Error): void;
  hooks: AttemptHooks;
}

/**
 * Starts the worker thread: once its providers are created, `check` sees what they support
 * (the playbook check; throwing stops the thread), then they are validated.
 */
export async function startAttemptThread(
  specs: ProviderSpec[],
  logger: Logger,
  check: (providers: ProviderSummary[]) => void,
  options: { niceIncrement?: number; events?: EngineEventBus } = {},
): Promise<AttemptRunner> {
  const thread = new AttemptThread(
    { specs, logLevel: logger.level, niceIncrement: options.niceIncrement ?? 0 },
    logger,
    check,
    options.events,
  );
  try {
    await thread.start();
  } catch (error) {
    await thread.kill();
    throw error;
  }
  return thread;
}

class AttemptThread implements AttemptRunner {
  private worker: Worker | null = null;
  private ready: Promise<void> | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private closing = false;
  private validated = false;
  private readonly logStream: pino.DestinationStream;

  constructor(
    private readonly data: AttemptThreadData,
    private readonly logger: Logger,
    private readonly check: (providers: ProviderSummary[]) => void,
    private readonly events?: EngineEventBus,
  ) {
    this.logStream = (logger as unknown as Record<symbol, pino.DestinationStream>)[pino.symbols.streamSym]!;
  }

  start(): Promise<void> {
    this.ready ??= this.spawn();
    return this.ready;
  }

  async run(request: AttemptRequest, hooks: AttemptHooks): Promise<AttemptResult> {
    if (this.closing) throw new Error('the attempt worker thread is closed');
    await this.start();
    const worker = this.worker;
    if (!worker) throw new Error('the attempt worker thread exited');
    const id = this.nextId++;
    return new Promise<AttemptResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, hooks });
      worker.postMessage({ type: 'run', id, request } satisfies ToWorker);
    });
  }

  leaseChanged(taskId: string, deadline: number | null): void {
    this.worker?.postMessage({ type: 'lease', taskId, deadline } satisfies ToWorker);
  }

  abort(): void {
    this.worker?.postMessage({ type: 'abort' } satisfies ToWorker);
  }

  async close(): Promise<void> {
    this.closing = true;
    const worker = this.worker;
    if (!worker) return;
    const closed = new Promise<void>((resolve) => {
      worker.on('message', (m: FromWorker) => m.type === 'closed' && resolve());
      worker.once('exit', () => resolve());
    });
    worker.postMessage({ type: 'close' } satisfies ToWorker);
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, CLOSE_TIMEOUT_MS).unref())]);
    await worker.terminate();
  }

  /** Ends the thread without waiting for its providers to close (start-up failed). */
  async kill(): Promise<void> {
    this.closing = true;
    await this.worker?.terminate();
  }

  private spawn(): Promise<void> {
    const worker = new Worker(ENTRY, { workerData: this.data, resourceLimits: { maxOldGenerationSizeMb: ATTEMPT_THREAD_OLD_SPACE_MB } });
    this.worker = worker;
    return new Promise<void>((resolve, reject) => {
      worker.on('message', (message: FromWorker) => {
        switch (message.type) {
          case 'log':
            this.logStream.write(message.line);
            return;
          case 'created':
            this.logger.info({ priority: message.priority }, 'attempt worker thread started');
            // A thread started again after a crash runs the same providers: checked and
            // validated once is enough, and a provider outage must not keep it from starting.
            if (this.validated) return resolve();
            try {
              this.check(message.providers);
            } catch (error) {
              return reject(error);
            }
            worker.postMessage({ type: 'validate' } satisfies ToWorker);
            return;
          case 'ready':
            this.validated = true;
            return resolve();
          case 'failed':
            return reject(new Error(message.message));
          case 'result':
            return this.settle(message.id, (p) => p.resolve(message.result));
          case 'record-account':
            return this.recordAccount(worker, message.id, message.account);
          case 'crashed':
            return this.settle(message.id, (p) => p.reject(new Error(message.message)));
          case 'closed':
            return;
        }
      });
      worker.on('error', (error) => {
        this.logger.error({ err: error }, 'attempt worker thread failed');
        reject(error);
      });
      worker.once('exit', (code) => {
        reject(new Error(`the attempt worker thread exited with code ${code} before it was ready`));
        if (this.worker !== worker) return;
        this.worker = null;
        const lost = [...this.pending.values()];
        this.pending.clear();
        for (const p of lost) p.reject(new Error(`the attempt worker thread exited (code ${code}) during the attempt`));
        if (this.closing) return;
        this.logger.error({ code, attemptsLost: lost.length }, 'attempt worker thread exited; the next attempt starts a new one');
        this.events?.emit('attempt_thread:exited', { code, attemptsLost: lost.length });
        this.ready = null;
      });
    });
  }

  /** The attempt asks the engine to write its account onto the task; the answer goes back to the thread. */
  private recordAccount(worker: Worker, id: number, account: JsonObject): void {
    const pending = this.pending.get(id);
    const answer = (held: boolean) => worker.postMessage({ type: 'account-recorded', id, held } satisfies ToWorker);
    if (!pending) return answer(false);
    pending.hooks.recordAccount(account).then(answer, (error: unknown) => {
      this.logger.warn({ err: error }, 'could not record the account an attempt found; the attempt stops before its writes');
      answer(false);
    });
  }

  private settle(id: number, action: (p: Pending) => void): void {
    const pending = this.pending.get(id);
    if (!pending) return;
    this.pending.delete(id);
    action(pending);
  }
}
