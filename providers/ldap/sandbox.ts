/**
 * The LDAP / Active Directory emulator: the in-memory `Directory` behind the sandbox kit.
 * Each LDAP operation the adapter sends is one JSON POST under `/ldap` (see
 * `sandbox-session.ts`), answered with its LDAP result code, so the kit's request log,
 * fault injection and lost answers work as for the HTTP providers. LDAP has no rate-limit
 * answer: over the limit the emulator answers `busy` (51), as a loaded directory does.
 * Every operation is also recorded with its arguments (`operations`), so tests assert the
 * exact LDAP operations sent.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import express, { type Request, type Response } from 'express';
import { z } from 'zod';
import { createSandboxApp, listenSandbox, type RunningSandbox, type SandboxOptions, type SandboxStyle } from '../sandbox/kit.ts';
import { Directory, type DirectoryResult } from './directory.ts';
import { LDAP_SANDBOX_BIND_DN, LDAP_SANDBOX_BIND_PASSWORD, LDAP_SANDBOX_PATH } from './sandbox-credentials.ts';
import { LDAP_RESULT, type LdapChange, type LdapFilter, type LdapSearch } from './session.ts';

/** One operation as the emulator received it (the password of a unicodePwd or userPassword change left out). */
export type RecordedOperation =
  | { operation: 'search'; base: string; scope: string; filter: LdapFilter; attributes: string[] }
  | { operation: 'modify'; dn: string; changes: Array<Omit<LdapChange, 'values'> & { values: string[] | '(secret)' }> }
  | { operation: 'modifydn'; dn: string; newDn: string }
  | { operation: 'delete'; dn: string };

export interface LdapSandbox extends RunningSandbox {
  directory: Directory;
  operations: RecordedOperation[];
}

const SECRET_ATTRIBUTES = new Set(['unicodepwd', 'userpassword']);

const filterSchema: z.ZodType<LdapFilter> = z.lazy(() =>
  z.union([
    z.object({ and: z.array(filterSchema).max(50) }).strict(),
    z.object({ or: z.array(filterSchema).max(50) }).strict(),
    z.object({ equals: z.string().min(1).max(64), value: z.string().max(4096), binary: z.boolean().optional() }).strict(),
    z.object({ present: z.string().min(1).max(64) }).strict(),
  ]),
);
const dnSchema = z.string().min(1).max(1024);
const searchSchema = z.object({
  base: dnSchema,
  scope: z.enum(['base', 'sub']),
  filter: filterSchema,
  attributes: z.array(z.string().max(64)).max(50),
  binaryAttributes: z.array(z.string().max(64)).max(50).optional(),
});
const modifySchema = z.object({
  dn: dnSchema,
  changes: z
    .array(
      z.object({
        operation: z.enum(['add', 'delete', 'replace']),
        attribute: z.string().min(1).max(64),
        values: z.array(z.string().max(4096)).max(100),
        binary: z.boolean().optional(),
      }),
    )
    .min(1)
    .max(50),
});
const modifyDnSchema = z.object({ dn: dnSchema, newDn: dnSchema });
const deleteSchema = z.object({ dn: dnSchema });

const answer = (res: Response, result: DirectoryResult) => res.json(result);

const sha256 = (value: string) => createHash('sha256').update(value).digest();
const EXPECTED_AUTHORIZATION = sha256(`Basic ${Buffer.from(`${LDAP_SANDBOX_BIND_DN}:${LDAP_SANDBOX_BIND_PASSWORD}`).toString('base64')}`);

const style: SandboxStyle = {
  rateLimited: (res) => answer(res, { resultCode: LDAP_RESULT.busy }),
  serverError: (res) => answer(res, { resultCode: LDAP_RESULT.unavailable }),
  unauthorized: (res) => answer(res, { resultCode: LDAP_RESULT.invalidCredentials }),
  // The bind's DN and password, compared in constant time (as hashes, so lengths do not leak either).
  authorized: (req: Request) => timingSafeEqual(sha256(req.get('authorization') ?? ''), EXPECTED_AUTHORIZATION),
};

export async function startLdapSandbox(options: SandboxOptions & { port?: number } = {}): Promise<LdapSandbox> {
  const directory = new Directory();
  const operations: RecordedOperation[] = [];
  const sandbox = createSandboxApp(
    style,
    options,
    (app, control) => {
      const router = express.Router();
      /** Parses the body; a malformed one is LDAP's protocolError (2). */
      const handle =
        <T>(schema: z.ZodType<T>, run: (body: T) => DirectoryResult) =>
        (req: Request, res: Response) => {
          const parsed = schema.safeParse(req.body);
          if (!parsed.success) return answer(res, { resultCode: 2 });
          answer(res, run(parsed.data));
        };
      router.post(
        '/search',
        handle(searchSchema, (body: LdapSearch) => {
          operations.push({ operation: 'search', base: body.base, scope: body.scope, filter: body.filter, attributes: body.attributes });
          const result = directory.search(body);
          if (result.resultCode === 0 && result.entries?.length === 0 && control.autoProvision && directory.provision(body))
            return directory.search(body);
          return result;
        }),
      );
      // A lying sandbox answers success and changes nothing.
      const write = (operation: string, key: string, apply: () => DirectoryResult): DirectoryResult => {
        if (control.lie()) return { resultCode: 0 };
        const result = apply();
        if (result.resultCode === 0) control.countWrite(operation, key);
        return result;
      };
      router.post(
        '/modify',
        handle(modifySchema, (body) => {
          const recorded = body.changes.map((c) => ({
            ...c,
            values: SECRET_ATTRIBUTES.has(c.attribute.toLowerCase()) ? ('(secret)' as const) : c.values,
          }));
          operations.push({ operation: 'modify', dn: body.dn, changes: recorded });
          return write('modify', body.dn, () => directory.modify(body.dn, body.changes));
        }),
      );
      router.post(
        '/modifydn',
        handle(modifyDnSchema, (body) => {
          operations.push({ operation: 'modifydn', dn: body.dn, newDn: body.newDn });
          return write('modifydn', body.dn, () => directory.modifyDn(body.dn, body.newDn));
        }),
      );
      router.post(
        '/delete',
        handle(deleteSchema, (body) => {
          operations.push({ operation: 'delete', dn: body.dn });
          return write('delete', body.dn, () => directory.delete(body.dn));
        }),
      );
      app.use(LDAP_SANDBOX_PATH, router);
    },
    (router) => {
      router.get('/operations', (_req, res) => {
        res.json(operations);
      });
    },
  );
  const running = await listenSandbox(sandbox, { port: options.port });
  return { ...running, directory, operations };
}
