/**
 * The AWS IAM adapter against its emulator with seeded users: finding a user by its `email`
 * tag (and refusing two), SigV4 refusals in IAM's XML shape, a read-only key's refusals
 * naming the permission, and a delete that clears everything IAM requires first.
 */
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Provider } from '../providers/contract.ts';
import { IamClient } from '../providers/aws/client.ts';
import { awsConfigSchema, type AwsConfig } from '../providers/aws/config.ts';
import { awsModule } from '../providers/aws/index.ts';
import { startAwsSandbox, type AwsSeedUser } from '../providers/aws/sandbox.ts';
import {
  AWS_SANDBOX_ACCESS_KEY_ID,
  AWS_SANDBOX_READ_ONLY_ACCESS_KEY_ID,
  AWS_SANDBOX_READ_ONLY_SECRET_ACCESS_KEY,
  AWS_SANDBOX_SECRET_ACCESS_KEY,
} from '../providers/aws/sandbox-credentials.ts';
import { Sha256 } from '../providers/aws/sandbox-signature.ts';
import type { RunningSandbox } from '../providers/sandbox/kit.ts';
import { PermanentError, TransientError } from '../src/domain/errors.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { actionContext, freshSubject } from './helpers/context.ts';

let sandbox: RunningSandbox & Awaited<ReturnType<typeof startAwsSandbox>>;
let base: AwsConfig;

const create = (config: Partial<AwsConfig>, name = 'aws'): Provider =>
  awsModule.create(awsConfigSchema.parse({ ...base, ...config }), { name, logger: silentLogger() });

async function seed(user: AwsSeedUser): Promise<void> {
  const res = await fetch(`${sandbox.url}/__sandbox/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(user),
  });
  expect(res.status).toBe(201);
}

async function stateOf(userName: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${sandbox.url}/__sandbox/users/${encodeURIComponent(userName)}`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  sandbox = await startAwsSandbox({ autoProvision: false });
  base = awsConfigSchema.parse(awsModule.sandboxConfig(sandbox));
});
afterAll(async () => {
  await sandbox?.close();
});

describe('resolve by tag', () => {
  it('finds the user whose email tag holds one of the subject’s emails, under the path, without regard to case', async () => {
    const subject = freshSubject('tagged');
    const email = subject.emails[0]!;
    await seed({ userName: 'someone-else', path: '/people/', tags: { email: 'other@example.com' } });
    await seed({ userName: `t-${subject.externalId}`, path: '/people/', tags: { email: email.toUpperCase(), team: 'data' } });
    // Outside the path: never listed, so never matched.
    await seed({ userName: `out-${subject.externalId}`, path: '/robots/', tags: { email } });
    const provider = create({ lookup: { by: 'tag', key: 'email', from: 'email', pathPrefix: '/people/' } });
    const account = await provider.resolve(subject, actionContext(subject));
    expect(account).toMatchObject({
      id: `t-${subject.externalId}`,
      via: 'tag',
      arn: `arn:aws:iam::123456789012:user/people/t-${subject.externalId}`,
    });
  });

  it('refuses two users carrying the tag, and answers null when none does', async () => {
    const subject = freshSubject('twice');
    await seed({ userName: `a-${subject.externalId}`, tags: { email: subject.emails[0]! } });
    await seed({ userName: `b-${subject.externalId}`, tags: { email: subject.emails[0]! } });
    const provider = create({ lookup: { by: 'tag', key: 'email', from: 'email', pathPrefix: '/' } });
    await expect(provider.resolve(subject, actionContext(subject))).rejects.toBeInstanceOf(PermanentError);
    const nobody = freshSubject('nobody');
    expect(await provider.resolve(nobody, actionContext(nobody))).toBeNull();
  });
});

describe('SigV4 and permissions, as IAM answers them', () => {
  it('a request without a signature is refused in IAM’s XML error shape', async () => {
    const res = await fetch(`${sandbox.url}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Action=ListUsers&Version=2010-05-08',
    });
    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toMatch(/^text\/xml/);
    expect(await res.text()).toMatch(
      /^<ErrorResponse xmlns="https:\/\/iam\.amazonaws\.com\/doc\/2010-05-08\/"><Error><Type>Sender<\/Type><Code>MissingAuthenticationToken<\/Code><Message>[^<]+<\/Message><\/Error><RequestId>[0-9a-f-]{36}<\/RequestId><\/ErrorResponse>$/,
    );
  });

  it('a signature made with another secret is SignatureDoesNotMatch; an unknown key is InvalidClientTokenId', async () => {
    const ctx = { signal: AbortSignal.timeout(10_000), logger: silentLogger() };
    const wrongSecret = create({ credentials: { accessKeyId: AWS_SANDBOX_ACCESS_KEY_ID, secretAccessKey: 'guessed' } });
    await expect(wrongSecret.validate!(ctx)).rejects.toThrow(/403 SignatureDoesNotMatch/);
    const unknownKey = create({ credentials: { accessKeyId: 'AKIAUNKNOWNKEY000000', secretAccessKey: 'guessed' } });
    await expect(unknownKey.validate!(ctx)).rejects.toThrow(/403 InvalidClientTokenId/);
    // Signed right, then the body changed: the emulator recomputes over what it received.
    const url = new URL(sandbox.url);
    const signer = new SignatureV4({
      credentials: { accessKeyId: AWS_SANDBOX_ACCESS_KEY_ID, secretAccessKey: AWS_SANDBOX_SECRET_ACCESS_KEY },
      region: 'us-east-1',
      service: 'iam',
      sha256: Sha256,
    });
    const sign = (body: string) =>
      signer.sign({
        method: 'POST',
        protocol: 'http:',
        hostname: url.hostname,
        port: Number(url.port),
        path: '/',
        query: {},
        headers: { host: url.host, 'content-type': 'application/x-www-form-urlencoded' },
        body,
      });
    const send = async (signed: Awaited<ReturnType<typeof sign>>, body: string) => {
      const { host: _host, ...headers } = signed.headers;
      return fetch(`${sandbox.url}/`, { method: 'POST', headers, body });
    };
    const listing = 'Action=ListUsers&Version=2010-05-08';
    expect((await send(await sign(listing), listing)).status).toBe(200);
    const tampered = await send(await sign(listing), 'Action=DeleteUser&Version=2010-05-08&UserName=someone-else');
    expect(tampered.status).toBe(403);
    expect(await tampered.text()).toMatch(/<Code>SignatureDoesNotMatch<\/Code>/);
  });

  it('a read-only key reads, and its writes are AccessDenied naming the IAM action', async () => {
    const subject = freshSubject('ro');
    const userName = `ro-${subject.externalId}`;
    await seed({ userName });
    const readOnly = create({
      credentials: { accessKeyId: AWS_SANDBOX_READ_ONLY_ACCESS_KEY_ID, secretAccessKey: AWS_SANDBOX_READ_ONLY_SECRET_ACCESS_KEY },
      lookup: { by: 'userName', template: userName },
    });
    const ctx = actionContext(subject);
    const account = await readOnly.resolve(subject, ctx);
    expect(account?.id).toBe(userName);
    const failure = await readOnly.actions.revoke_credentials!.execute(account!, ctx).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(PermanentError);
    expect((failure as Error).message).toMatch(
      /HTTP 403 AccessDenied: .*not authorized to perform: iam:UpdateAccessKey.*\(needs iam:UpdateAccessKey\)/,
    );
    expect((await stateOf(userName)).body.accessKeys).toHaveLength(2);
  });
});

describe('delete_account', () => {
  it('clears what IAM requires first (every credential kind, groups, inline and attached policies) and deletes the user', async () => {
    const subject = freshSubject('everything');
    const userName = `all-${subject.externalId}`;
    await seed({
      userName,
      sshPublicKeys: 1,
      serviceSpecificCredentials: 1,
      signingCertificates: 1,
      mfaDevices: 2,
      groups: ['developers', 'oncall'],
      inlinePolicies: ['s3-scratch'],
    });
    // IAM refuses to delete a user with anything attached, as the emulator does.
    const client = new IamClient(base);
    const call = { signal: AbortSignal.timeout(10_000), now: () => new Date() };
    await expect(client.deleteUser(userName, call)).rejects.toBeInstanceOf(TransientError);
    await expect(client.deleteUser(userName, call)).rejects.toThrow(/409 DeleteConflict/);

    const provider = create({ lookup: { by: 'userName', template: userName } });
    const ctx = actionContext(subject);
    const account = (await provider.resolve(subject, ctx))!;
    const { evidence } = await provider.actions.delete_account!.execute(account, ctx);
    expect(evidence).toMatchObject({
      userName,
      deleted: true,
      loginProfileDeleted: true,
      sshPublicKeysDeleted: [expect.any(String)],
      serviceSpecificCredentialsDeleted: [expect.any(String)],
      signingCertificatesDeleted: [expect.any(String)],
      groupsRemoved: ['developers', 'oncall'],
      inlinePoliciesDeleted: ['s3-scratch'],
      policiesDetached: ['arn:aws:iam::aws:policy/IAMUserChangePassword'],
    });
    expect((evidence as { mfaDevicesDeactivated: string[] }).mfaDevicesDeactivated).toHaveLength(2);
    expect(await provider.actions.delete_account!.verify(account, ctx)).toEqual({ userName, found: false });
    expect((await stateOf(userName)).status).toBe(404);
  });

  it('a retry after DeleteUser’s answer was lost finds the user gone: DeleteUser reaches IAM once, and the evidence says found absent', async () => {
    const subject = freshSubject('lost');
    const userName = `lost-${subject.externalId}`;
    await seed({ userName });
    const lose = await fetch(`${sandbox.url}/__sandbox/lose-answers`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'DeleteUser' }),
    });
    expect(lose.status).toBe(204);
    const provider = create({ lookup: { by: 'userName', template: userName } });
    const ctx = actionContext(subject);
    const account = (await provider.resolve(subject, ctx))!;
    await expect(provider.actions.delete_account!.execute(account, ctx)).rejects.toBeInstanceOf(TransientError);
    const retry = await provider.actions.delete_account!.execute(account, { ...ctx, attempt: 2 });
    expect(retry.evidence).toMatchObject({
      deleted: false,
      alreadyAbsent: true,
      confirmedAbsentByAttempt: 2,
      seenBy: 'read before delete',
    });
    expect(sandbox.control.writes.get(`DeleteUser:${userName}`)).toBe(1);
    expect(await provider.actions.delete_account!.verify(account, ctx)).toEqual({ userName, found: false });
  });
});
