/** Who is calling the admin API, and what they may do. */
import type { Response } from 'express';

export type Role = 'viewer' | 'operator';

export interface Principal {
  /** Recorded in the audit log: `admin:<token name>` or `oidc:<sub>`. Never a credential. */
  actor: string;
  role: Role;
}

export function principalOf(res: Response): Principal {
  const principal = res.locals.principal as Principal | undefined;
  // The auth middleware runs first on every admin route; reaching here without it is a wiring bug.
  if (!principal) throw new Error('admin route reached without authentication');
  return principal;
}
