/**
 * The Brivo Access adapter: `deactivate_badge` suspends the person (no door opens for a
 * suspended user) and unassigns every credential they hold, then proves both by reading
 * the suspended status and the credential list back.
 */
import type { AccountRef, ActionHandler, Evidence, ExecuteResult, Provider, ProviderFactoryContext } from '../contract.ts';
import { PermanentError, VerificationError } from '../contract.ts';
import type { Subject } from '../../src/domain/types.ts';
import { BrivoClient, type BrivoUser, type CallContext } from './client.ts';
import type { BrivoConfig } from './config.ts';
import { brivoTokens } from './token.ts';

type CustomFieldLookup = Extract<BrivoConfig['lookup'], { by: 'customField' }>;

function customFieldValues(subject: Subject, field: CustomFieldLookup['subjectField']): string[] {
  const values = field === 'email' ? subject.emails : field === 'userName' ? [subject.userName] : [subject.externalId];
  return [...new Set(values.filter((v): v is string => typeof v === 'string' && v !== ''))];
}

export function createBrivoProvider(config: BrivoConfig, factory: ProviderFactoryContext): Provider {
  const client = new BrivoClient(config, brivoTokens(config), factory.throttle);

  async function resolveByCustomField(lookup: CustomFieldLookup, subject: Subject, ctx: CallContext): Promise<BrivoUser | null> {
    const values = customFieldValues(subject, lookup.subjectField);
    if (values.length === 0) {
      throw new PermanentError(`Brivo resolve: the subject has no ${lookup.subjectField} to look the user up by`);
    }
    for (const value of values) {
      const { count, users } = await client.findUsersByCustomField(lookup.customFieldId, value, ctx);
      if (count > 1)
        throw new PermanentError(
          `Brivo resolve: ${count} users match custom field ${lookup.customFieldId}; refusing to act on an ambiguous match`,
        );
      const [user] = users;
      if (!user) continue;
      // Listing answers are a slice of the user; read the field itself before trusting the match.
      const stored = (await client.customFields(user.id, ctx)).get(lookup.customFieldId);
      const same = lookup.subjectField === 'externalId' ? stored === value : stored?.toLowerCase() === value.toLowerCase();
      if (!same)
        throw new PermanentError(`Brivo resolve: the user Brivo answered does not hold the value in custom field ${lookup.customFieldId}`);
      return user;
    }
    return null;
  }

  const deactivateBadge: ActionHandler = {
    async execute(account, ctx): Promise<ExecuteResult> {
      const suspendedBefore = await client.getSuspended(account.id, ctx);
      if (suspendedBefore === null) {
        // The user was deleted from Brivo: no badge of theirs opens anything.
        return { evidence: { userId: account.id, httpStatus: 404, alreadyDone: true } };
      }
      let gone = false;
      if (!suspendedBefore) gone = (await client.suspend(account.id, ctx)) === 'gone';
      const revoked: Array<{ id: string; format: string }> = [];
      if (config.revokeCredentials && !gone) {
        for (const credential of await client.listCredentials(account.id, ctx)) {
          if ((await client.removeCredential(account.id, credential.id, ctx)) === 'removed') revoked.push(credential);
        }
      }
      return {
        evidence: {
          userId: account.id,
          suspendedBefore,
          suspended: true,
          credentialsRevoked: revoked,
          alreadyDone: suspendedBefore && revoked.length === 0,
        },
      };
    },
    async verify(account, ctx): Promise<Evidence> {
      const suspended = await client.getSuspended(account.id, ctx);
      if (suspended === null) return { userId: account.id, httpStatus: 404 };
      const credentials = config.revokeCredentials ? await client.listCredentials(account.id, ctx) : [];
      const observed = { userId: account.id, suspended, remainingCredentials: credentials };
      if (!suspended) throw new VerificationError('Brivo deactivate_badge: user is not suspended', observed);
      if (credentials.length > 0) {
        throw new VerificationError(`Brivo deactivate_badge: ${credentials.length} credential(s) still assigned`, observed);
      }
      return { ...observed, credentialsChecked: config.revokeCredentials };
    },
  };

  return {
    kind: 'brivo',
    name: factory.name,
    async resolve(subject, ctx) {
      let user: BrivoUser | null;
      if (config.lookup.by === 'externalId') {
        if (!subject.externalId) {
          throw new PermanentError('Brivo resolve: the subject has no externalId to look the user up by');
        }
        user = await client.getUserByExternalId(subject.externalId, ctx);
        if (user && user.externalId !== null && user.externalId !== subject.externalId) {
          throw new PermanentError('Brivo resolve: the user Brivo answered has another externalId');
        }
      } else {
        user = await resolveByCustomField(config.lookup, subject, ctx);
      }
      if (!user) return null;
      return { id: user.id, externalId: user.externalId, suspended: user.suspended } satisfies AccountRef;
    },
    actions: { deactivate_badge: deactivateBadge },
    async validate(ctx) {
      await client.probe({ signal: ctx.signal, now: () => new Date() });
    },
  };
}
