/**
 * What an action file of the Google adapter needs from the adapter: the SDK clients, the
 * typed-error wrapper around one SDK call, and the user read. Passed in rather than
 * imported, so each action file holds only its own provider logic.
 */
import { PermanentError, type AccountRef, type DeprovisionError } from '../contract.ts';
import type { admin_directory_v1 } from '@googleapis/admin';
import type { GoogleClients } from './client.ts';
import { isNotFound, toProviderError } from './errors.ts';

export type GoogleUser = admin_directory_v1.Schema$User;

export interface GoogleActionKit {
  api: GoogleClients;
  /** Runs one SDK call and turns its failure into the engine's typed error. */
  call<T>(operation: string, run: () => Promise<{ data: T }>): Promise<T>;
  /** The engine's typed error for a failed SDK call that the action inspected first. */
  toError(error: unknown, operation: string): DeprovisionError;
  /** users.get for an action on a resolved account: a vanished user is a PermanentError. */
  requireUser(account: AccountRef, signal: AbortSignal): Promise<GoogleUser>;
}

export function createActionKit(api: GoogleClients, rateLimitDelayMs: number): GoogleActionKit {
  const call = async <T>(operation: string, run: () => Promise<{ data: T }>): Promise<T> => {
    try {
      return (await run()).data;
    } catch (error) {
      throw toProviderError(error, operation, { rateLimitDelayMs });
    }
  };
  return {
    api,
    call,
    toError: (error, operation) => toProviderError(error, operation, { rateLimitDelayMs }),
    async requireUser(account, signal) {
      try {
        return (await api.directory.users.get({ userKey: account.id }, { signal })).data;
      } catch (error) {
        if (isNotFound(error)) throw new PermanentError(`google users.get: user ${account.id} no longer exists`);
        throw toProviderError(error, 'users.get', { rateLimitDelayMs });
      }
    },
  };
}
