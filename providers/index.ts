/** The provider kinds this build knows. A config naming another kind fails at start. */
import { awsModule } from './aws/index.ts';
import { brivoModule } from './brivo/index.ts';
import { caepModule } from './caep/index.ts';
import { emailModule } from './email/index.ts';
import { githubModule } from './github/index.ts';
import { googleModule } from './google/index.ts';
import { ldapModule } from './ldap/index.ts';
import { microsoftModule } from './microsoft/index.ts';
import type { ProviderModule } from './module.ts';
import { notifyModule } from './notify/index.ts';
import { oktaModule } from './okta/index.ts';
import { restModule } from './rest/index.ts';
import { scimModule } from './scim/index.ts';
import { slackModule } from './slack/index.ts';
import { stripeModule } from './stripe/index.ts';

export const providerModules: ReadonlyMap<string, ProviderModule> = new Map<string, ProviderModule>(
  [
    oktaModule,
    googleModule,
    microsoftModule,
    notifyModule,
    scimModule,
    brivoModule,
    caepModule,
    ldapModule,
    githubModule,
    slackModule,
    awsModule,
    restModule,
    stripeModule,
    emailModule,
  ].map((m) => [m.kind, m]),
);
