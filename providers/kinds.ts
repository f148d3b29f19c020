/**
 * The provider kinds this build knows, without their adapters: enough to check settings
 * and start emulators on a thread that never calls a provider (the daemon's thread when
 * attempts run on the worker thread, `config check`). `index.ts` lists the full modules.
 */
import { awsKind } from './aws/kind.ts';
import { brivoKind } from './brivo/kind.ts';
import { caepKind } from './caep/kind.ts';
import { emailKind } from './email/kind.ts';
import { githubKind } from './github/kind.ts';
import { googleKind } from './google/kind.ts';
import { ldapKind } from './ldap/kind.ts';
import { microsoftKind } from './microsoft/kind.ts';
import type { ProviderKind } from './module.ts';
import { notifyKind } from './notify/kind.ts';
import { oktaKind } from './okta/kind.ts';
import { restKind } from './rest/kind.ts';
import { scimKind } from './scim/kind.ts';
import { slackKind } from './slack/kind.ts';
import { stripeKind } from './stripe/kind.ts';

export const providerKinds: ReadonlyMap<string, ProviderKind> = new Map<string, ProviderKind>(
  [
    oktaKind,
    googleKind,
    microsoftKind,
    notifyKind,
    scimKind,
    brivoKind,
    caepKind,
    ldapKind,
    githubKind,
    slackKind,
    awsKind,
    restKind,
    stripeKind,
    emailKind,
  ].map((k) => [k.kind, k]),
);
