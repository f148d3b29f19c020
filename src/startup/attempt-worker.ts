/**
 * The worker thread's side of attempt-thread.ts: creates the providers from their specs,
 * reports what they support, then runs each attempt it is sent and posts the result.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { providerModules } from '../../providers/index.ts';
import { coerceError } from '../domain/errors.ts';
import type { JsonObject } from '../domain/types.ts';
import { createLogger } from '../telemetry/logger.ts';
import type { AttemptThreadData, FromWorker, ToWorker } from './attempt-thread.ts';
import { inlineAttempts } from './inline-attempts.ts';
import { installConnectionFence } from './connection-fence.ts';
import { createProviders, summarise, validateProviders } from './provider-setup.ts';
import { lowerThreadPriority } from './thread-priority.ts';

const port = parentPort!;
const post = (message: FromWorker) => port.postMessage(message);
const { specs, logLevel, niceIncrement } = workerData as AttemptThreadData;
// First, before any adapter could start a thread that would inherit the value.
const priority = lowerThreadPriority(niceIncrement);
const logger = createLogger({ level: logLevel, destination: { write: (line: string) => post({ type: 'log', line }) } });

const fail = (error: unknown) => {
  post({ type: 'failed', message: coerceError(error).message });
  port.close();
};

/** Answers the daemon's thread owes this thread, by attempt: whether it recorded the account. */
const recordings = new Map<number, (held: boolean) => void>();
function askToRecord(id: number, account: JsonObject): Promise<boolean> {
  return new Promise((resolve) => {
    recordings.set(id, resolve);
    post({ type: 'record-account', id, account });
  });
}

try {
  // Before any adapter exists: their SDKs take this thread's default agents and dispatcher.
  installConnectionFence();
  const providers = createProviders(specs, providerModules, logger);
  const attempts = inlineAttempts(providers, logger.child({ component: 'engine' }));
  port.on('message', (message: ToWorker) => {
    switch (message.type) {
      case 'validate':
        validateProviders(providers, logger).then(() => post({ type: 'ready' }), fail);
        return;
      case 'run':
        attempts.run(message.request, { recordAccount: (account) => askToRecord(message.id, account) }).then(
          (result) => post({ type: 'result', id: message.id, result }),
          (error: unknown) => post({ type: 'crashed', id: message.id, message: coerceError(error).message }),
        );
        return;
      case 'account-recorded':
        recordings.get(message.id)?.(message.held);
        recordings.delete(message.id);
        return;
      case 'lease':
        return attempts.leaseChanged(message.taskId, message.deadline);
      case 'abort':
        return attempts.abort();
      case 'close':
        void attempts.close().finally(() => {
          post({ type: 'closed' });
          port.close();
        });
        return;
    }
  });
  post({ type: 'created', providers: summarise(providers), priority });
} catch (error) {
  fail(error);
}
