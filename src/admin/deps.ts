/** What the admin API is built from: injected, nothing imported as a singleton. */
import type { Logger } from 'pino';
import type { Config } from '../config/schema.ts';
import type { TerminationService } from '../intake/termination-service.ts';
import type { Store } from '../store/store.ts';
import type { OidcVerifier } from './oidc.ts';

export interface AdminDeps {
  /** `reverify` may be left out (tests): the defaults apply. */
  /** `playbooks` may be left out (tests): no retention policy then keeps an erasure request back. */
  config: Pick<Config, 'auth' | 'server'> & { reverify?: Pick<Config['reverify'], 'maxOnDemand'>; playbooks?: Config['playbooks'] };
  store: Store;
  terminations: TerminationService;
  logger: Logger;
  now: () => Date;
  /** Overrides the verifier built from `config.auth.oidc` (tests). */
  oidc?: OidcVerifier | null;
}
