/**
 * The routers the daemon mounts, and what each gets injected. Each router authenticates
 * its own requests (SCIM bearer tokens, webhook signatures, admin tokens or OIDC).
 */
import type { Router } from 'express';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.ts';
import type { Engine } from '../engine/engine.ts';
import type { EngineEventBus } from '../engine/events.ts';
import type { TerminationService } from '../intake/termination-service.ts';
import type { Store } from '../store/store.ts';

export interface RouteDeps {
  config: Config;
  store: Store;
  terminations: TerminationService;
  engine: Engine;
  events: EngineEventBus;
  logger: Logger;
  now: () => Date;
}

export async function buildRouters(_deps: RouteDeps): Promise<Array<{ path: string; router: Router }>> {
  return [];
}
