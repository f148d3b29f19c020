/**
 * The framework's ceiling for SCIM intake: express 5 + scimmy-routers + SCIMMY's User
 * resource over an in-memory Map, with the same bearer-token check as the daemon (SHA-256
 * and constant-time compare, before the body is read) and the same JSON body parser.
 * Nothing is durable. Runs in its own process, like the daemon it is compared with:
 *
 *   node --import tsx bench/bare-scimmy.ts --users 40000 --token <scim token>
 *
 * Pre-creates users u0..u<N-1> and prints one JSON line {"url": ...} once it listens on
 * 127.0.0.1. Stops on SIGTERM/SIGINT or when stdin closes.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import express from 'express';
import SCIMMY from 'scimmy';
import SCIMMYRouters from 'scimmy-routers';
import { TokenSet, bearerToken } from '../src/server/tokens.ts';

const { values } = parseArgs({ options: { users: { type: 'string', default: '1000' }, token: { type: 'string' } } });
if (!values.token) throw new Error('--token is required');
const tokens = new TokenSet([{ token: values.token, principal: 'scim:token-0' }]);

type Stored = Record<string, unknown> & { id: string; userName: string };
const users = new Map<string, Stored>();
const now = new Date().toISOString();
for (let n = 0; n < Number(values.users); n += 1) {
  const login = `bare.${n}@example.com`;
  users.set(`u${n}`, {
    id: `u${n}`,
    userName: login,
    externalId: `bare-${n}`,
    name: { givenName: 'Bench', familyName: `User${n}` },
    emails: [{ primary: true, value: login, type: 'work' }],
    displayName: `Bench User ${n}`,
    active: true,
    meta: { resourceType: 'User', created: now, lastModified: now },
  });
}
let nextId = users.size;

SCIMMY.Resources.declare(SCIMMY.Resources.User, {
  ingress: (resource: SCIMMY.Resources.User, instance: any) => {
    const id = resource.id ?? `u${nextId++}`;
    const previous = users.get(id);
    if (resource.id && !previous) throw new SCIMMY.Types.Error(404, null as never, `Resource ${id} not found`);
    const stored: Stored = {
      ...JSON.parse(JSON.stringify(instance)),
      id,
      meta: {
        resourceType: 'User',
        created: (previous?.meta as { created?: string } | undefined)?.created ?? now,
        lastModified: new Date().toISOString(),
      },
    };
    delete (stored as { schemas?: unknown }).schemas;
    users.set(id, stored);
    return stored;
  },
  egress: (resource: SCIMMY.Resources.User) => {
    if (!resource.id) return [...users.values()].slice(0, 200);
    const user = users.get(resource.id);
    if (!user) throw new SCIMMY.Types.Error(404, null as never, `Resource ${resource.id} not found`);
    return user;
  },
  degress: (resource: SCIMMY.Resources.User) => {
    if (!users.delete(resource.id!)) throw new SCIMMY.Types.Error(404, null as never, `Resource ${resource.id} not found`);
  },
} as any);

const app = express();
app.disable('x-powered-by');
const router = express.Router();
router.use((req, res, next) => {
  const token = bearerToken(req.headers.authorization);
  if (token === null || tokens.match(token) === null) {
    res
      .status(401)
      .set('WWW-Authenticate', 'Bearer')
      .type('application/scim+json')
      .send('{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"401"}');
    return;
  }
  next();
});
router.use(express.json({ type: ['application/scim+json', 'application/json'], limit: '256kb' }));
router.use(
  new SCIMMYRouters({
    type: 'bearer',
    handler: (req: express.Request) => {
      const token = bearerToken(req.headers.authorization);
      if (token === null || tokens.match(token) === null) throw new Error('unauthorized');
      return 'scim:token-0';
    },
  } as any) as unknown as express.Router,
);
app.use('/scim/v2', router);

const server = app.listen(0, '127.0.0.1');
await once(server, 'listening');
process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, users: users.size })}\n`);
const stop = () => server.close(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.resume();
