/**
 * SCIMMY's resource declarations. SCIMMY keeps them in process-global state (declared
 * resources, their ingress/egress/degress handlers, the schema extensions, the service
 * provider config), so they are set once per process by `declareScimResources()`, and the
 * handlers hold no daemon state: every request brings its daemon's ScimUserService in the
 * SCIMMY context (built per request by the router). Two daemons in one process (tests
 * start several) therefore serve their own stores. What stays shared is harmless: the
 * base path for `meta.location` (the same `/scim/v2` for every daemon) and the config.
 */
import type { Logger } from 'pino';
import SCIMMY from 'scimmy';
import { InvalidSubjectError } from '../../domain/subject.ts';
import { coerceError } from '../../domain/errors.ts';
import { CancellationRefusedError, OpenTerminationConflictError, ReusedRequestIdError } from '../../domain/termination-conflicts.ts';
import { DirectoryConflictError } from '../../store/directory.ts';
import { GroupMemberNotFoundError } from '../../store/directory-groups.ts';
import { PreconditionFailedError } from './etag.ts';
import { GroupRequestError } from './group-mapping.ts';
import { GroupNotFoundError } from './group-service.ts';
import { InvalidFilterError, type FilterNode } from './filter.ts';
import { fromScimUser, toScimUser } from './user-mapping.ts';
import { logServerError } from '../../server/http-errors.ts';
import { isStoreOutage } from '../../store/outage.ts';
import { TooManyToFilterError, UserNotFoundError, type ScimCaller, type ScimUserService } from './user-service.ts';

/** Largest page we return; advertised as `filter.maxResults`. */
export const MAX_PAGE_SIZE = 200;

/** A SCIMMY error (its typings want a scimType string even where RFC 7644 has none). */
export function scimError(status: number, scimType: string | null, message: string): SCIMMY.Types.SCIMError {
  return new SCIMMY.Types.Error(status, scimType!, message);
}

/** The detail of the 503 a store outage answers. */
export const STORE_UNAVAILABLE_DETAIL = 'the store is unavailable; retry later';

/** What each SCIMMY handler receives as `ctx`: built per request by the router. */
export interface ScimContext extends ScimCaller {
  users: ScimUserService;
  logger: Logger;
  /** The request's filter, parsed once by the router's query reader (null without one). */
  filter: FilterNode | null;
  /** Marks the request as failed by a store outage: its 500 is answered as 503. */
  storeUnavailable?(): void;
}

function contextOf(ctx: unknown): ScimContext {
  const candidate = ctx as Partial<ScimContext> | undefined;
  // Only reachable if SCIMMY is driven without our router: a server bug, not a client one.
  if (!candidate?.users) throw scimError(500, null, 'SCIM request context is missing');
  return candidate as ScimContext;
}

/**
 * Every failure of a SCIM handler as a SCIMMY error with the right status. SCIMMY answers
 * any other exception from a handler with 404 "not found" (400 for a TypeError): a store
 * outage would look like a missing user, and a client that trusts that 404 (Entra
 * re-creates the user) would act on it. A store outage (src/store/outage.ts) answers 503
 * (through the router); anything else is a bug: 500 with a request id the log names too.
 */
export function toScimError(error: unknown, context: ScimContext): SCIMMY.Types.SCIMError {
  if (error instanceof SCIMMY.Types.Error) return error;
  if (error instanceof UserNotFoundError || error instanceof GroupNotFoundError) return scimError(404, null, error.message);
  if (error instanceof GroupRequestError) return scimError(error.status, error.scimType, error.message);
  if (error instanceof GroupMemberNotFoundError) return scimError(400, 'invalidValue', error.message);
  if (error instanceof PreconditionFailedError) return scimError(412, null, error.message);
  if (error instanceof DirectoryConflictError)
    return scimError(409, 'uniqueness', 'userName is already taken (compared case-insensitively)');
  if (error instanceof InvalidFilterError) return scimError(400, 'invalidFilter', error.message);
  if (error instanceof TooManyToFilterError) return scimError(400, 'tooMany', error.message);
  if (error instanceof InvalidSubjectError) return scimError(400, 'invalidValue', error.message);
  // A refused cancellation (or a conflict of the one rule for a second termination): the message names the termination and what to do.
  if (error instanceof CancellationRefusedError || error instanceof OpenTerminationConflictError || error instanceof ReusedRequestIdError) {
    return scimError(409, null, error.message);
  }
  if (isStoreOutage(error)) {
    // SCIMMY builds no 503 body (its list of statuses stops at 501): it answers this 500,
    // and the router rewrites it to 503 with Retry-After, because the request is marked here.
    context.storeUnavailable?.();
    context.logger.error(
      { err: coerceError(error), actor: context.actor, method: context.method },
      'SCIM request failed: store unavailable',
    );
    return scimError(500, null, STORE_UNAVAILABLE_DETAIL);
  }
  const requestId = logServerError(context.logger, error, { actor: context.actor, method: context.method }, 'SCIM request failed');
  return scimError(500, null, `internal error (request id ${requestId}); the daemon's log has the cause under this id`);
}

/** Runs a handler with its failures turned into SCIMMY errors (toScimError). */
async function guarded<T>(ctx: unknown, run: (context: ScimContext) => Promise<T>): Promise<T> {
  const context = contextOf(ctx);
  try {
    return await run(context);
  } catch (error) {
    throw toScimError(error, context);
  }
}

/**
 * SCIMMY's User resource with our own list read. SCIMMY's ListResponse re-slices a page
 * it is given (a page from the database would lose items for 1 < startIndex <= count) and
 * cannot be told the total, so lists are paged and counted here; single reads, writes,
 * PATCH and DELETE go through SCIMMY unchanged (except the PATCH that only sets `active`,
 * served by the router without SCIMMY: see active-patch.ts).
 */
class DirectoryUserResource extends SCIMMY.Resources.User {
  // A list read answers with a ListResponse body of our own making, which SCIMMY's type for
  // read() (its ListResponse or the resource) does not cover; SCIMMY serialises both alike.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
  override async read(ctx?: unknown): Promise<any> {
    if (this.id) return super.read(ctx);
    const attributes = this.attributes;
    const startIndex = Math.max(1, this.constraints?.startIndex ?? 1);
    const count = Math.min(Math.max(0, this.constraints?.count ?? MAX_PAGE_SIZE), MAX_PAGE_SIZE);
    return guarded(ctx, async ({ users, filter }) => {
      const { resources, total } = await users.list(filter, { startIndex, count }, groupsBasepath());
      const basepath = SCIMMY.Resources.User.basepath() as string;
      return {
        schemas: [SCIMMY.Messages.ListResponse.id],
        totalResults: total,
        startIndex,
        itemsPerPage: resources.length,
        Resources: resources.map((resource) => new SCIMMY.Schemas.User(resource, 'out', basepath, attributes)),
      };
    });
  }

  /** RFC 7644 §3.5.2 allows 204 for a PATCH that changed nothing; Okta and Entra both read a 200 with the resource best. */
  override async patch(message: Parameters<SCIMMY.Resources.User['patch']>[0], ctx?: unknown): Promise<SCIMMY.Schemas.User> {
    // SCIMMY's types leave out the undefined that patch() returns when the operations changed nothing.
    const patched = (await super.patch(message, ctx)) as SCIMMY.Schemas.User | undefined;
    // A PATCH names one user, so read() answers with that user.
    return patched ?? ((await this.read(ctx)) as SCIMMY.Schemas.User);
  }
}

/** Where a user's `groups[].$ref` points: scimmy-routers sets every resource's base path from the request, as for meta.location. */
function groupsBasepath(): string {
  return SCIMMY.Resources.Group.basepath() as string;
}

let declared = false;

/** Declares User (with the enterprise extension) and Group, once per process. */
export function declareScimResources(): void {
  if (declared) return;
  declared = true;
  // Another copy of this module (a test runner's fresh module graph in the same process)
  // may have declared already; its handlers are this same code, so it stays.
  // (SCIMMY's types leave out the undefined that declared(name) returns for a name not declared.)
  if ((SCIMMY.Resources.declared('User') as typeof SCIMMY.Types.Resource | undefined) !== undefined) return;

  SCIMMY.Resources.declare(DirectoryUserResource, {
    name: 'User',
    extensions: [{ schema: SCIMMY.Schemas.EnterpriseUser, required: false }],
    ingress: (resource: SCIMMY.Resources.User, instance: unknown, ctx: unknown) =>
      guarded(ctx, async (context) => {
        const update = fromScimUser(instance);
        // A new user is in no group yet; a replaced one keeps its groups (a User write never changes them).
        if (!resource.id) return toScimUser(await context.users.create(update));
        const user = await context.users.replace(resource.id, update, context);
        return toScimUser(user, undefined, { of: await context.users.groupsOf(user.id), basepath: groupsBasepath() });
      }),
    egress: (resource: SCIMMY.Resources.User, ctx: unknown) =>
      guarded(ctx, async (context) => {
        if (!resource.id) throw scimError(500, null, 'list reads are served by the resource itself');
        const { user, groups } = await context.users.view(resource.id);
        return toScimUser(user, undefined, { of: groups, basepath: groupsBasepath() });
      }),
    degress: (resource: SCIMMY.Resources.User, ctx: unknown) =>
      guarded(ctx, async (context) => {
        await context.users.delete(resource.id!, context);
      }),
  });

  // /Groups requests and the root `POST /.search` are answered by group-router.ts and
  // root-search.ts before SCIMMY sees them; the declaration is for discovery (/ResourceTypes,
  // /Schemas) and the base path of `$ref`s. The egress is never reached.
  SCIMMY.Resources.declare(SCIMMY.Resources.Group, {
    egress: () => [],
  });
}

/**
 * The service provider config every daemon advertises. Set after each SCIMMY router is
 * constructed, because the router's constructor overwrites the global config (bulk and
 * sort on) and appends its auth scheme again each time.
 */
export function applyServiceProviderConfig(): void {
  SCIMMY.Config.set({ authenticationSchemes: [] });
  SCIMMY.Config.set({
    patch: true,
    bulk: false,
    filter: { supported: true, maxResults: MAX_PAGE_SIZE },
    sort: false,
    // meta.version is a weak ETag on Users and Groups, and If-Match is honoured (etag.ts).
    etag: true,
    changePassword: false,
    authenticationSchemes: [
      {
        type: 'oauthbearertoken',
        name: 'OAuth Bearer Token',
        description: 'A bearer token from auth.scim in the deprovisiond configuration',
        specUri: 'https://datatracker.ietf.org/doc/html/rfc6750',
        primary: true,
      },
    ],
  });
}
