/**
 * AWS IAM emulator: IAM's Query protocol as the SDK speaks it. Every call is a form-encoded
 * `POST /` (`Action=ListAccessKeys&Version=2010-05-08&UserName=…`) signed with SigV4, which
 * is checked (sandbox-signature.ts) with the sandbox's keys; answers are XML in IAM's shapes
 * (`<ListAccessKeysResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ListAccessKeysResult>
 * …</ListAccessKeysResult><ResponseMetadata><RequestId>…`), errors IAM's
 * `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/>` with its statuses:
 * NoSuchEntity 404, Throttling 400 (no Retry-After), AccessDenied / InvalidClientTokenId /
 * SignatureDoesNotMatch 403, DeleteConflict 409, ServiceUnavailable 503. Lists page with
 * `MaxItems` (default 100) and an opaque `Marker`.
 *
 * Control API beyond the kit's (`/__sandbox`): `POST /users` seeds a user (sandbox-state.ts),
 * `GET /users/{name}` reads one back, `POST /users/{name}/access-keys` adds an active key and
 * `POST /users/{name}/groups` (`{ groupName }`) a group membership, behind the adapter's back;
 * `POST /lose-answers` (`{ action, count }`) applies the next calls of that Action and then
 * drops the connection instead of answering (the kit's `loseAnswers` matches paths, and every
 * IAM call is `POST /`).
 */
import { randomUUID } from 'node:crypto';
import express, { type Request, type Response } from 'express';
import { XMLBuilder } from 'fast-xml-parser';
import {
  createSandboxApp,
  listenSandbox,
  type RunningSandbox,
  type SandboxControl,
  type SandboxOptions,
  type SandboxStyle,
} from '../sandbox/kit.ts';
import {
  AWS_SANDBOX_ACCESS_KEY_ID,
  AWS_SANDBOX_ACCOUNT_ID,
  AWS_SANDBOX_READ_ONLY_ACCESS_KEY_ID,
  AWS_SANDBOX_READ_ONLY_SECRET_ACCESS_KEY,
  AWS_SANDBOX_SECRET_ACCESS_KEY,
} from './sandbox-credentials.ts';
import { checkSignature, type SignatureCheck } from './sandbox-signature.ts';
import { arnOfGroup, arnOfUser, AwsState, awsSeedUserSchema, USER_NAME, type SandboxIamUser } from './sandbox-state.ts';

export { AwsState, type AwsSeedUser } from './sandbox-state.ts';

const NAMESPACE = 'https://iam.amazonaws.com/doc/2010-05-08/';
const VERSION = '2010-05-08';

export interface AwsSandboxOptions extends SandboxOptions {
  port?: number;
}

const SECRETS: ReadonlyMap<string, string> = new Map([
  [AWS_SANDBOX_ACCESS_KEY_ID, AWS_SANDBOX_SECRET_ACCESS_KEY],
  [AWS_SANDBOX_READ_ONLY_ACCESS_KEY_ID, AWS_SANDBOX_READ_ONLY_SECRET_ACCESS_KEY],
]);
const CALLERS: Record<string, string> = { [AWS_SANDBOX_ACCESS_KEY_ID]: 'deprovisiond', [AWS_SANDBOX_READ_ONLY_ACCESS_KEY_ID]: 'read-only' };

/** The request as the emulator keeps it between its middleware and its routes. */
interface IamRequest extends Request {
  iamSignature?: SignatureCheck;
  iamParams?: URLSearchParams;
}

// fast-xml-parser 5 points to its split-out builder package; this project depends on fast-xml-parser, whose XMLBuilder is the same code.
// eslint-disable-next-line @typescript-eslint/no-deprecated
const xml = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@_', suppressEmptyNode: true });

/** Thrown by an action: answered in IAM's error shape. */
class IamFault extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly type: 'Sender' | 'Receiver' = 'Sender',
  ) {
    super(message);
  }
}

function sendXml(res: Response, status: number, body: Record<string, unknown>, requestId: string): void {
  res.status(status).set('x-amzn-RequestId', requestId).type('text/xml').send(xml.build(body));
}

function sendError(res: Response, fault: IamFault): void {
  const requestId = randomUUID();
  sendXml(
    res,
    fault.status,
    {
      ErrorResponse: {
        '@_xmlns': NAMESPACE,
        Error: { Type: fault.type, Code: fault.code, Message: fault.message },
        RequestId: requestId,
      },
    },
    requestId,
  );
}

/** A list member as IAM writes it: `<Field><member>…</member>…</Field>`. */
const members = (items: unknown[]) => ({ member: items });

/** One page of `items` after `Marker`, `MaxItems` long (IAM's default 100, at most 1,000). */
function page<T>(items: T[], params: URLSearchParams): { items: T[]; IsTruncated: boolean; Marker?: string } {
  const max = params.has('MaxItems') ? Number(params.get('MaxItems')) : 100;
  if (!Number.isInteger(max) || max < 1 || max > 1000) {
    throw new IamFault(
      400,
      'ValidationError',
      "1 validation error detected: Value at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000",
    );
  }
  const marker = params.get('Marker');
  const start = marker === null ? 0 : Number(Buffer.from(marker, 'base64url').toString());
  if (!Number.isInteger(start) || start < 0 || start > items.length) throw new IamFault(400, 'InvalidInput', 'Invalid Marker.');
  const slice = items.slice(start, start + max);
  const truncated = start + max < items.length;
  return { items: slice, IsTruncated: truncated, ...(truncated ? { Marker: Buffer.from(String(start + max)).toString('base64url') } : {}) };
}

function userXml(user: SandboxIamUser) {
  return { Path: user.path, UserName: user.userName, UserId: user.userId, Arn: arnOfUser(user), CreateDate: user.createDate };
}

type Action = (params: URLSearchParams, caller: string, state: AwsState, control: SandboxControl) => Record<string, unknown> | null;

const READS = new Set([
  'GetUser',
  'ListUsers',
  'ListUserTags',
  'ListAccessKeys',
  'GetLoginProfile',
  'ListSSHPublicKeys',
  'ListServiceSpecificCredentials',
  'ListSigningCertificates',
  'ListMFADevices',
  'ListGroupsForUser',
  'ListUserPolicies',
  'ListAttachedUserPolicies',
]);

function required(params: URLSearchParams, name: string, pattern: RegExp): string {
  const value = params.get(name);
  if (value === null || value === '') {
    throw new IamFault(
      400,
      'ValidationError',
      `1 validation error detected: Value null at '${name.charAt(0).toLowerCase()}${name.slice(1)}' failed to satisfy constraint: Member must not be null`,
    );
  }
  if (!pattern.test(value)) {
    throw new IamFault(
      400,
      'ValidationError',
      `1 validation error detected: Value at '${name.charAt(0).toLowerCase()}${name.slice(1)}' failed to satisfy constraint: Member must satisfy regular expression pattern: ${pattern.source}`,
    );
  }
  return value;
}

const ID = /^[\w+=/:,.@-]{1,256}$/;

function actions(state: AwsState): Record<string, Action> {
  /** The named user, or (autoProvision on GetUser) a new one; NoSuchEntity otherwise. */
  const userOf = (params: URLSearchParams, control?: SandboxControl): SandboxIamUser => {
    const name = required(params, 'UserName', USER_NAME);
    let user = state.user(name);
    if (!user && control?.autoProvision && !state.deleted.has(name.toLowerCase())) user = state.create({ userName: name });
    if (!user) throw new IamFault(404, 'NoSuchEntity', `The user with name ${name} cannot be found.`);
    return user;
  };
  /** A write: counted, or (lying fault) answered as done while nothing changes. */
  const write = (control: SandboxControl, operation: string, user: SandboxIamUser, apply: () => void) => {
    if (control.lie()) return;
    apply();
    control.countWrite(operation, user.userName);
  };
  const removeById = <T>(list: T[], pick: (item: T) => string, id: string, what: string): number => {
    const index = list.findIndex((item) => pick(item) === id);
    if (index < 0) throw new IamFault(404, 'NoSuchEntity', `The ${what} with id ${id} cannot be found.`);
    return index;
  };

  return {
    GetUser(params, caller, _s, control) {
      if (!params.has('UserName')) {
        const path = '/';
        return {
          User: {
            Path: path,
            UserName: caller,
            UserId: 'AIDASANDBOXCALLER0001',
            Arn: arnOfUser({ path, userName: caller }),
            CreateDate: '2024-01-01T00:00:00Z',
          },
        };
      }
      const user = userOf(params, control);
      return { User: { ...userXml(user), ...(user.tags.length > 0 ? { Tags: members(user.tags) } : {}) } };
    },
    ListUsers(params) {
      const prefix = params.get('PathPrefix') ?? '/';
      const users = [...state.users.values()].filter((u) => u.path.startsWith(prefix)).sort((a, b) => a.userName.localeCompare(b.userName));
      const { items, ...more } = page(users, params);
      return { Users: members(items.map(userXml)), ...more };
    },
    ListUserTags(params) {
      const { items, ...more } = page(userOf(params).tags, params);
      return { Tags: members(items), ...more };
    },
    ListAccessKeys(params) {
      const user = userOf(params);
      const { items, ...more } = page(user.accessKeys, params);
      return { AccessKeyMetadata: members(items.map((k) => ({ UserName: user.userName, ...k }))), ...more };
    },
    UpdateAccessKey(params, _c, _s, control) {
      const user = userOf(params);
      const id = required(params, 'AccessKeyId', /^[\w]{16,128}$/);
      const status = required(params, 'Status', /^(Active|Inactive|Expired)$/);
      const key = user.accessKeys[removeById(user.accessKeys, (k) => k.AccessKeyId, id, 'Access Key')]!;
      write(control, 'UpdateAccessKey', user, () => (key.Status = status === 'Active' ? 'Active' : 'Inactive'));
      return null;
    },
    DeleteAccessKey(params, _c, _s, control) {
      const user = userOf(params);
      const index = removeById(user.accessKeys, (k) => k.AccessKeyId, required(params, 'AccessKeyId', /^[\w]{16,128}$/), 'Access Key');
      write(control, 'DeleteAccessKey', user, () => user.accessKeys.splice(index, 1));
      return null;
    },
    GetLoginProfile(params) {
      const user = userOf(params);
      if (!user.loginProfile) throw new IamFault(404, 'NoSuchEntity', `Login Profile for User ${user.userName} cannot be found.`);
      return {
        LoginProfile: {
          UserName: user.userName,
          CreateDate: user.loginProfile.CreateDate,
          PasswordResetRequired: user.loginProfile.PasswordResetRequired,
        },
      };
    },
    DeleteLoginProfile(params, _c, _s, control) {
      const user = userOf(params);
      if (!user.loginProfile) throw new IamFault(404, 'NoSuchEntity', `Login Profile for User ${user.userName} cannot be found.`);
      write(control, 'DeleteLoginProfile', user, () => (user.loginProfile = null));
      return null;
    },
    ListSSHPublicKeys(params) {
      const user = userOf(params);
      const { items, ...more } = page(user.sshPublicKeys, params);
      return { SSHPublicKeys: members(items.map((k) => ({ UserName: user.userName, ...k }))), ...more };
    },
    DeleteSSHPublicKey(params, _c, _s, control) {
      const user = userOf(params);
      const index = removeById(
        user.sshPublicKeys,
        (k) => k.SSHPublicKeyId,
        required(params, 'SSHPublicKeyId', /^[\w]{20,128}$/),
        'Public Key',
      );
      write(control, 'DeleteSSHPublicKey', user, () => user.sshPublicKeys.splice(index, 1));
      return null;
    },
    ListServiceSpecificCredentials(params) {
      const user = userOf(params);
      return { ServiceSpecificCredentials: members(user.serviceSpecificCredentials.map((c) => ({ UserName: user.userName, ...c }))) };
    },
    DeleteServiceSpecificCredential(params, _c, _s, control) {
      const user = userOf(params);
      const list = user.serviceSpecificCredentials;
      const index = removeById(
        list,
        (c) => c.ServiceSpecificCredentialId,
        required(params, 'ServiceSpecificCredentialId', /^[\w]{20,128}$/),
        'Service Specific Credential',
      );
      write(control, 'DeleteServiceSpecificCredential', user, () => list.splice(index, 1));
      return null;
    },
    ListSigningCertificates(params) {
      const user = userOf(params);
      const { items, ...more } = page(user.signingCertificates, params);
      return {
        Certificates: members(
          items.map((c) => ({
            UserName: user.userName,
            CertificateId: c.CertificateId,
            CertificateBody: '-----BEGIN CERTIFICATE-----\nMIIsandbox\n-----END CERTIFICATE-----',
            Status: c.Status,
            UploadDate: c.UploadDate,
          })),
        ),
        ...more,
      };
    },
    DeleteSigningCertificate(params, _c, _s, control) {
      const user = userOf(params);
      const index = removeById(
        user.signingCertificates,
        (c) => c.CertificateId,
        required(params, 'CertificateId', /^[\w]{24,128}$/),
        'Signing Certificate',
      );
      write(control, 'DeleteSigningCertificate', user, () => user.signingCertificates.splice(index, 1));
      return null;
    },
    ListMFADevices(params) {
      const user = userOf(params);
      const { items, ...more } = page(user.mfaDevices, params);
      return { MFADevices: members(items.map((d) => ({ UserName: user.userName, ...d }))), ...more };
    },
    DeactivateMFADevice(params, _c, _s, control) {
      const user = userOf(params);
      const serial = required(params, 'SerialNumber', ID);
      const index = user.mfaDevices.findIndex((d) => d.SerialNumber === serial);
      if (index < 0) throw new IamFault(404, 'NoSuchEntity', `MFA Device with serial number ${serial} does not exist.`);
      write(control, 'DeactivateMFADevice', user, () => user.mfaDevices.splice(index, 1));
      return null;
    },
    ListGroupsForUser(params) {
      const user = userOf(params);
      const groups = [...user.groups].map((g) => state.group(g));
      const { items, ...more } = page(groups, params);
      return {
        Groups: members(
          items.map((g) => ({ Path: g.path, GroupName: g.groupName, GroupId: g.groupId, Arn: arnOfGroup(g), CreateDate: g.createDate })),
        ),
        ...more,
      };
    },
    RemoveUserFromGroup(params, _c, _s, control) {
      const groupName = required(params, 'GroupName', /^[\w+=,.@-]{1,128}$/);
      const user = userOf(params);
      if (!state.groups.has(groupName)) throw new IamFault(404, 'NoSuchEntity', `The group with name ${groupName} cannot be found.`);
      // IAM answers 200 when the user is not in the group.
      write(control, 'RemoveUserFromGroup', user, () => user.groups.delete(groupName));
      return null;
    },
    ListUserPolicies(params) {
      const { items, ...more } = page([...userOf(params).inlinePolicies], params);
      return { PolicyNames: members(items), ...more };
    },
    DeleteUserPolicy(params, _c, _s, control) {
      const user = userOf(params);
      const name = required(params, 'PolicyName', /^[\w+=,.@-]{1,128}$/);
      if (!user.inlinePolicies.has(name)) throw new IamFault(404, 'NoSuchEntity', `The user policy with name ${name} cannot be found.`);
      write(control, 'DeleteUserPolicy', user, () => user.inlinePolicies.delete(name));
      return null;
    },
    ListAttachedUserPolicies(params) {
      const { items, ...more } = page([...userOf(params).attachedPolicies], params);
      return { AttachedPolicies: members(items.map((arn) => ({ PolicyName: arn.split('/').at(-1), PolicyArn: arn }))), ...more };
    },
    DetachUserPolicy(params, _c, _s, control) {
      const user = userOf(params);
      const arn = required(params, 'PolicyArn', /^arn:[\w+=/:,.@-]{1,2040}$/);
      if (!user.attachedPolicies.has(arn)) throw new IamFault(404, 'NoSuchEntity', `Policy ${arn} was not found.`);
      write(control, 'DetachUserPolicy', user, () => user.attachedPolicies.delete(arn));
      return null;
    },
    DeleteUser(params, _c, _s, control) {
      const user = userOf(params);
      // A lying write answers 2xx before anything is checked: nothing changes, whatever remains.
      if (control.lie()) return null;
      const blocking =
        user.accessKeys.length > 0 ||
        user.loginProfile !== null ||
        user.sshPublicKeys.length > 0 ||
        user.serviceSpecificCredentials.length > 0 ||
        user.signingCertificates.length > 0 ||
        user.mfaDevices.length > 0;
      if (blocking)
        throw new IamFault(
          409,
          'DeleteConflict',
          'Cannot delete entity, must delete login profile, access keys, certificates, keys, credentials and MFA devices first.',
        );
      if (user.groups.size > 0) throw new IamFault(409, 'DeleteConflict', 'Cannot delete entity, must remove users from group first.');
      if (user.inlinePolicies.size > 0) throw new IamFault(409, 'DeleteConflict', 'Cannot delete entity, must delete policies first.');
      if (user.attachedPolicies.size > 0)
        throw new IamFault(409, 'DeleteConflict', 'Cannot delete entity, must detach all policies first.');
      state.delete(user);
      control.countWrite('DeleteUser', user.userName);
      return null;
    },
  };
}

function style(): SandboxStyle {
  return {
    rateLimited(res) {
      // IAM's rate limit: HTTP 400, code Throttling, no Retry-After.
      sendError(res, new IamFault(400, 'Throttling', 'Rate exceeded'));
    },
    serverError(res) {
      sendError(res, new IamFault(503, 'ServiceUnavailable', 'Service is unable to handle request.', 'Receiver'));
    },
    unauthorized(res) {
      const check = (res.req as IamRequest).iamSignature;
      const refusal =
        check && !check.ok ? check : { code: 'MissingAuthenticationToken', message: 'Request is missing Authentication Token' };
      sendError(res, new IamFault(refusal.code === 'IncompleteSignature' ? 400 : 403, refusal.code, refusal.message));
    },
    authorized(req) {
      return (req as IamRequest).iamSignature?.ok === true;
    },
  };
}

export async function startAwsSandbox(options: AwsSandboxOptions = {}): Promise<RunningSandbox & { state: AwsState }> {
  const state = new AwsState();
  const table = actions(state);
  const sandbox = createSandboxApp(
    style(),
    options,
    (app, control) => {
      app.post('/', (req: IamRequest, res) => {
        const params = req.iamParams ?? new URLSearchParams();
        const action = params.get('Action');
        try {
          if (params.get('Version') !== VERSION)
            throw new IamFault(400, 'InvalidParameterValue', `Version ${params.get('Version') ?? '(none)'} is not supported.`);
          const run = action !== null && Object.hasOwn(table, action) ? table[action] : undefined;
          if (!run || action === null)
            throw new IamFault(400, 'InvalidAction', `Could not find operation ${action ?? '(none)'} for version ${VERSION}`);
          const accessKeyId = (req.iamSignature as { accessKeyId: string }).accessKeyId;
          const caller = CALLERS[accessKeyId] ?? 'unknown';
          if (accessKeyId === AWS_SANDBOX_READ_ONLY_ACCESS_KEY_ID && !READS.has(action)) {
            const target = params.get('UserName') ?? caller;
            throw new IamFault(
              403,
              'AccessDenied',
              `User: arn:aws:iam::${AWS_SANDBOX_ACCOUNT_ID}:user/${caller} is not authorized to perform: iam:${action} on resource: user ${target} because no identity-based policy allows the iam:${action} action`,
            );
          }
          const result = run(params, caller, state, control);
          // The kit's lost answers match a path, and every IAM call is POST /: these match the Action.
          if (state.takeLostAnswer(action)) return void req.socket.destroy();
          const requestId = randomUUID();
          sendXml(
            res,
            200,
            {
              [`${action}Response`]: {
                '@_xmlns': NAMESPACE,
                ...(result ? { [`${action}Result`]: result } : {}),
                ResponseMetadata: { RequestId: requestId },
              },
            },
            requestId,
          );
        } catch (error) {
          if (error instanceof IamFault) return sendError(res, error);
          throw error;
        }
      });
      app.use((_req: Request, res: Response) => sendError(res, new IamFault(404, 'InvalidAction', 'Unknown path: IAM answers POST /')));
    },
    (router) => {
      router.post('/users', (req, res) => {
        const parsed = awsSeedUserSchema.safeParse(req.body ?? {});
        if (!parsed.success) return void res.status(400).json({ error: parsed.error.message });
        if (state.user(parsed.data.userName)) return void res.status(409).json({ error: 'EntityAlreadyExists' });
        res.status(201).json(state.snapshot(state.create(parsed.data)));
      });
      router.get('/users/:name', (req, res) => {
        const user = state.user(req.params.name);
        if (!user) return void res.status(404).json({ error: 'NoSuchEntity' });
        res.json(state.snapshot(user));
      });
      router.post('/users/:name/access-keys', (req, res) => {
        const user = state.user(req.params.name);
        if (!user) return void res.status(404).json({ error: 'NoSuchEntity' });
        res.status(201).json({ accessKeyId: state.addAccessKey(user) });
      });
      router.post('/lose-answers', (req, res) => {
        const { action, count } = (req.body ?? {}) as { action?: unknown; count?: unknown };
        if (typeof action !== 'string' || !Object.hasOwn(table, action)) return void res.status(400).json({ error: 'action' });
        state.loseAnswers(action, typeof count === 'number' && Number.isInteger(count) && count > 0 ? count : 1);
        res.status(204).end();
      });
      router.post('/users/:name/groups', (req, res) => {
        const user = state.user(req.params.name);
        const groupName = (req.body as { groupName?: unknown } | undefined)?.groupName;
        if (!user) return void res.status(404).json({ error: 'NoSuchEntity' });
        if (typeof groupName !== 'string' || !/^[\w+=,.@-]{1,128}$/.test(groupName))
          return void res.status(400).json({ error: 'groupName' });
        user.groups.add(state.group(groupName).groupName);
        res.status(204).end();
      });
    },
  );

  // SigV4 signs the body, and the kit checks credentials before any route: the body is read
  // and the signature checked here, in front of the kit's app (its control API excepted).
  const front = express();
  front.disable('x-powered-by');
  // Raw bytes for the signature; the control API's JSON is left to the kit's parser.
  front.use(express.raw({ type: (req) => !(req.url ?? '').startsWith('/__sandbox'), limit: '1mb' }));
  front.use((req: IamRequest, _res, next) => {
    if (req.path.startsWith('/__sandbox')) return next();
    const body = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
    req.iamParams = new URLSearchParams(req.is('application/x-www-form-urlencoded') ? body : '');
    const query: Record<string, string> = {};
    for (const [key, value] of new URL(req.originalUrl, 'http://sandbox').searchParams) query[key] = value;
    checkSignature({ method: req.method, host: req.get('host') ?? '', path: req.path, query, headers: req.headers, body }, SECRETS)
      .then((check) => {
        req.iamSignature = check;
        next();
      })
      .catch(next);
  });
  front.use(sandbox.app);
  // A body too large or unreadable, answered as IAM answers a request it cannot parse.
  front.use((_error: unknown, _req: Request, res: Response, _next: express.NextFunction) => {
    sendError(res, new IamFault(400, 'MalformedQueryString', 'The request body could not be read.'));
  });
  const running = await listenSandbox({ app: front, control: sandbox.control }, { port: options.port });
  return { ...running, state };
}
