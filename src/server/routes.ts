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
import { buildAdminRouter } from '../admin/router.ts';
import { buildConsoleRouter } from '../console/router.ts';
import { buildWebhookRouter } from '../intake/webhook.ts';
import { createScimRouter } from '../intake/scim/router.ts';

export interface RouteDeps {
  config: Config;
  store: Store;
  terminations: TerminationService;
  engine: Engine;
  events: EngineEventBus;
  logger: Logger;
  now: () => Date;
}

export async function buildRouters(deps: RouteDeps): Promise<Array<{ path: string; router: Router }>> {
  return [
    { path: '/scim/v2', router: createScimRouter({ ...deps, logger: deps.logger.child({ component: 'scim' }) }) },
    { path: '/webhooks', router: buildWebhookRouter(deps) },
    { path: '/admin/v1', router: buildAdminRouter(deps) },
    { path: '/', router: buildConsoleRouter(deps) },
  ];
}
