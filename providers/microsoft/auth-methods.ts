/**
 * remove_mfa on Microsoft Graph: every authentication method of the user except the
 * password goes, each through its own type's endpoint (Graph has no generic DELETE on
 * `/authentication/methods/{id}`), and the read-back must show the password alone.
 */
import type { AccountRef, ActionContext, ActionHandler, Evidence, ExecuteResult } from '../contract.ts';
import { DeprovisionError, PermanentError, VerificationError, withCheckpoint } from '../contract.ts';
import type { JsonObject } from '../../src/domain/types.ts';
import { seg, type GraphApi } from './graph-client.ts';

interface AuthMethod {
  '@odata.type'?: string;
  id: string;
}

const PASSWORD_TYPE = '#microsoft.graph.passwordAuthenticationMethod';

/** The collection each removable method type is deleted through. */
export const METHOD_COLLECTIONS: Readonly<Record<string, string>> = {
  '#microsoft.graph.phoneAuthenticationMethod': 'phoneMethods',
  '#microsoft.graph.microsoftAuthenticatorAuthenticationMethod': 'microsoftAuthenticatorMethods',
  '#microsoft.graph.fido2AuthenticationMethod': 'fido2Methods',
  '#microsoft.graph.softwareOathAuthenticationMethod': 'softwareOathMethods',
  '#microsoft.graph.emailAuthenticationMethod': 'emailMethods',
  '#microsoft.graph.windowsHelloForBusinessAuthenticationMethod': 'windowsHelloForBusinessMethods',
  '#microsoft.graph.temporaryAccessPassAuthenticationMethod': 'temporaryAccessPassMethods',
};

/**
 * Graph refuses to delete a mobile phone while an alternateMobile exists, so the
 * alternate goes first (these phone method ids are fixed by Graph, one per phoneType).
 */
const ALTERNATE_MOBILE_ID = 'b6332ec1-7057-4abe-9331-3d72feddfe41';

/** Type and id only: a phone number or a device name is personal data, not proof. */
function methodEvidence(method: AuthMethod): JsonObject {
  return { type: (method['@odata.type'] ?? 'unknown').replace('#microsoft.graph.', ''), id: method.id };
}

function listMethods(graph: GraphApi, userId: string, signal: AbortSignal): Promise<AuthMethod[]> {
  return graph.collect<AuthMethod>({ method: 'GET', path: `/users/${seg(userId)}/authentication/methods`, signal });
}

function isPassword(method: AuthMethod): boolean {
  return method['@odata.type'] === PASSWORD_TYPE;
}

function earlierRemoved(ctx: ActionContext): JsonObject[] {
  const removed = ctx.checkpoint?.removedMethods;
  return Array.isArray(removed) ? removed.filter((m): m is JsonObject => typeof m === 'object' && m !== null && !Array.isArray(m)) : [];
}

export function removeMfa(graph: GraphApi): ActionHandler {
  return {
    execute: async (account: AccountRef, ctx: ActionContext): Promise<ExecuteResult> => {
      const methods = (await listMethods(graph, account.id, ctx.signal)).filter((m) => !isPassword(m));
      const unsupported = methods.filter((m) => !METHOD_COLLECTIONS[m['@odata.type'] ?? '']);
      let pending = methods
        .filter((m) => METHOD_COLLECTIONS[m['@odata.type'] ?? ''])
        .sort((a, b) => Number(b.id === ALTERNATE_MOBILE_ID) - Number(a.id === ALTERNATE_MOBILE_ID));
      const removed: JsonObject[] = earlierRemoved(ctx);
      const alreadyGone: JsonObject[] = [];
      let refusedAtEnd: AuthMethod[] = [];
      const removedBefore = removed.length;
      // Graph refuses to delete the user's default MFA method while others remain, and v1.0
      // does not say which one is the default: a refused delete waits until the others are
      // gone. A pass that removes nothing ends the loop: when nothing at all could be removed
      // (no permission, say) the refusal is the answer; otherwise the refused methods are
      // reported and verify, reading the list back, decides.
      while (pending.length > 0) {
        const refused: AuthMethod[] = [];
        let lastRefusal: DeprovisionError | null = null;
        for (const method of pending) {
          try {
            const answer = await graph.send({
              method: 'DELETE',
              path: `/users/${seg(account.id)}/authentication/${METHOD_COLLECTIONS[method['@odata.type']!]!}/${seg(method.id)}`,
              signal: ctx.signal,
              notFoundIsNull: true,
            });
            (answer.status === 404 ? alreadyGone : removed).push(methodEvidence(method));
          } catch (error) {
            if (!(error instanceof PermanentError)) {
              throw error instanceof DeprovisionError ? withCheckpoint(error, { removedMethods: removed }) : error;
            }
            refused.push(method);
            lastRefusal = error;
          }
        }
        if (refused.length === pending.length && lastRefusal) {
          if (removed.length === removedBefore) throw withCheckpoint(lastRefusal, { removedMethods: removed });
          refusedAtEnd = refused;
          break;
        }
        pending = refused;
      }
      return {
        evidence: {
          removed,
          alreadyGone,
          refused: refusedAtEnd.map(methodEvidence),
          unsupported: unsupported.map(methodEvidence),
          alreadyDone: removed.length === 0,
        },
      };
    },
    verify: async (account: AccountRef, ctx: ActionContext): Promise<Evidence> => {
      const methods = await listMethods(graph, account.id, ctx.signal);
      const remaining = methods.filter((m) => !isPassword(m));
      if (remaining.length > 0) {
        throw new VerificationError('authentication methods other than the password remain', {
          remainingMethods: remaining.map(methodEvidence),
        });
      }
      return { remainingMethods: methods.map(methodEvidence), onlyPassword: true };
    },
  };
}
