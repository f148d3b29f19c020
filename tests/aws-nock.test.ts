/**
 * The exact requests the AWS IAM adapter sends through the real SDK, asserted with nock:
 * form-encoded `POST /` with `Action` and `Version=2010-05-08` (IAM's Query protocol),
 * SigV4 signed for `us-east-1`/`iam` with the configured key, each action's parameters,
 * `Marker` paging, the SDK's retries off; and how IAM's XML errors become typed errors (Throttling is HTTP 400),
 * without the secret key in them.
 */
import nock from 'nock';
import { describe, expect, it } from 'vitest';
import type { AccountRef, Provider } from '../providers/contract.ts';
import { awsConfigSchema, type AwsConfigInput } from '../providers/aws/config.ts';
import { DEFAULT_THROTTLE_DELAY_MS } from '../providers/aws/errors.ts';
import { awsModule } from '../providers/aws/index.ts';
import { PermanentError, RateLimitedError, TransientError, VerificationError } from '../src/domain/errors.ts';
import type { Subject } from '../src/domain/types.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { actionContext } from './helpers/context.ts';
import { strictNock } from './helpers/strict-nock.ts';

const ENDPOINT = 'https://iam.nock.example';
const KEY_ID = 'AKIANOCKTEST00000001';
const SECRET = 'nock/secret/access/key/0123456789abcdefXYZ';
const NS = 'https://iam.amazonaws.com/doc/2010-05-08/';
const subject: Subject = { externalId: 'HR-1815', userName: 'ada.lovelace@acme.example', emails: ['Ada.Lovelace@acme.example'] };
const account: AccountRef = {
  id: 'ada.lovelace',
  userName: 'ada.lovelace',
  userId: 'AIDAADA',
  arn: 'arn:aws:iam::111122223333:user/ada.lovelace',
  via: 'tag',
};
const ctx = () => actionContext(subject);

function provider(overrides: Partial<AwsConfigInput> = {}): Provider {
  const config = awsConfigSchema.parse({
    endpoint: ENDPOINT,
    credentials: { accessKeyId: KEY_ID, secretAccessKey: SECRET },
    requestTimeoutMs: 5000,
    ...overrides,
  });
  return awsModule.create(config, { name: 'aws-nock', logger: silentLogger() });
}

/** Every call: a SigV4 signature by the configured key, scoped to IAM in us-east-1, over the host; a form body. */
const iam = () =>
  nock(ENDPOINT, {
    reqheaders: {
      authorization: (value: string) =>
        new RegExp(
          `^AWS4-HMAC-SHA256 Credential=${KEY_ID}/\\d{8}/us-east-1/iam/aws4_request, SignedHeaders=[a-z0-9;-]*\\bhost\\b[a-z0-9;-]*, Signature=[0-9a-f]{64}$`,
        ).test(value),
      'content-type': 'application/x-www-form-urlencoded',
      'x-amz-date': /^\d{8}T\d{6}Z$/,
      // The SDK's own retries are off: the engine owns retries (one attempt, at most one).
      'amz-sdk-request': 'attempt=1; max=1',
    },
  });

/** The form an action sends: exactly these fields. */
const form = (action: string, params: Record<string, string> = {}) => ({ Action: action, Version: '2010-05-08', ...params });

const ok = (action: string, result = '') =>
  `<${action}Response xmlns="${NS}">${result ? `<${action}Result>${result}</${action}Result>` : ''}<ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></${action}Response>`;
const members = (items: string[]) => items.map((i) => `<member>${i}</member>`).join('');
const error = (code: string, message: string, type = 'Sender') =>
  `<ErrorResponse xmlns="${NS}"><Error><Type>${type}</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>req-e</RequestId></ErrorResponse>`;
const xml = { 'content-type': 'text/xml' };
const user = (name: string) =>
  `<Path>/people/</Path><UserName>${name}</UserName><UserId>AIDA${name.toUpperCase().replace(/\W/g, '')}</UserId><Arn>arn:aws:iam::111122223333:user/people/${name}</Arn><CreateDate>2024-01-02T03:04:05Z</CreateDate>`;

strictNock();

describe('requests sent', () => {
  it('resolve by tag: ListUsers under the path, every page by Marker, then each user’s tags', async () => {
    iam()
      .post('/', form('ListUsers', { PathPrefix: '/people/', MaxItems: '1000' }))
      .reply(200, ok('ListUsers', `<Users>${members([user('grace')])}</Users><IsTruncated>true</IsTruncated><Marker>page-2</Marker>`), xml);
    iam()
      .post('/', form('ListUsers', { PathPrefix: '/people/', MaxItems: '1000', Marker: 'page-2' }))
      .reply(200, ok('ListUsers', `<Users>${members([user('ada.lovelace')])}</Users><IsTruncated>false</IsTruncated>`), xml);
    iam()
      .post('/', form('ListUserTags', { UserName: 'grace', MaxItems: '1000' }))
      .reply(
        200,
        ok(
          'ListUserTags',
          `<Tags>${members(['<Key>email</Key><Value>grace@acme.example</Value>'])}</Tags><IsTruncated>false</IsTruncated>`,
        ),
        xml,
      );
    iam()
      .post('/', form('ListUserTags', { UserName: 'ada.lovelace', MaxItems: '1000' }))
      .reply(
        200,
        ok(
          'ListUserTags',
          `<Tags>${members(['<Key>Email</Key><Value>ada.lovelace@ACME.example</Value>'])}</Tags><IsTruncated>false</IsTruncated>`,
        ),
        xml,
      );
    expect(await provider({ lookup: { by: 'tag', pathPrefix: '/people/' } }).resolve(subject, ctx())).toEqual({
      id: 'ada.lovelace',
      userName: 'ada.lovelace',
      userId: 'AIDAADALOVELACE',
      arn: 'arn:aws:iam::111122223333:user/people/ada.lovelace',
      via: 'tag',
    });
  });

  it('resolve by tag refuses two users carrying the value', async () => {
    iam()
      .post('/', form('ListUsers', { PathPrefix: '/', MaxItems: '1000' }))
      .reply(200, ok('ListUsers', `<Users>${members([user('ada'), user('ada2')])}</Users><IsTruncated>false</IsTruncated>`), xml);
    for (const name of ['ada', 'ada2']) {
      iam()
        .post('/', form('ListUserTags', { UserName: name, MaxItems: '1000' }))
        .reply(
          200,
          ok(
            'ListUserTags',
            `<Tags>${members(['<Key>email</Key><Value>ada.lovelace@acme.example</Value>'])}</Tags><IsTruncated>false</IsTruncated>`,
          ),
          xml,
        );
    }
    await expect(provider().resolve(subject, ctx())).rejects.toThrow(/2 IAM users carry the subject's email tag/);
  });

  it('resolve by user-name template: GetUser with the name (as the email spells it: IAM names ignore case); NoSuchEntity (404) is no account', async () => {
    iam()
      .post('/', form('GetUser', { UserName: 'Ada.Lovelace' }))
      .reply(404, error('NoSuchEntity', 'The user with name ada.lovelace cannot be found.'), xml);
    expect(await provider({ lookup: { by: 'userName', template: '{local}' } }).resolve(subject, ctx())).toBeNull();
  });

  it('revoke_credentials reads every kind, deactivates active keys, then deletes and deactivates each', async () => {
    iam()
      .post('/', form('ListAccessKeys', { UserName: 'ada.lovelace' }))
      .reply(
        200,
        ok(
          'ListAccessKeys',
          `<AccessKeyMetadata>${members([
            '<UserName>ada.lovelace</UserName><AccessKeyId>AKIAACTIVE0000000001</AccessKeyId><Status>Active</Status><CreateDate>2024-01-01T00:00:00Z</CreateDate>',
            '<UserName>ada.lovelace</UserName><AccessKeyId>AKIAINACTIVE00000002</AccessKeyId><Status>Inactive</Status><CreateDate>2024-01-01T00:00:00Z</CreateDate>',
          ])}</AccessKeyMetadata><IsTruncated>false</IsTruncated>`,
        ),
        xml,
      );
    iam()
      .post('/', form('GetLoginProfile', { UserName: 'ada.lovelace' }))
      .reply(
        200,
        ok(
          'GetLoginProfile',
          '<LoginProfile><UserName>ada.lovelace</UserName><CreateDate>2024-01-01T00:00:00Z</CreateDate></LoginProfile>',
        ),
        xml,
      );
    iam()
      .post('/', form('ListSSHPublicKeys', { UserName: 'ada.lovelace' }))
      .reply(
        200,
        ok(
          'ListSSHPublicKeys',
          `<SSHPublicKeys>${members(['<UserName>ada.lovelace</UserName><SSHPublicKeyId>APKASSH0000000000001</SSHPublicKeyId><Status>Active</Status><UploadDate>2024-01-01T00:00:00Z</UploadDate>'])}</SSHPublicKeys><IsTruncated>false</IsTruncated>`,
        ),
        xml,
      );
    iam()
      .post('/', form('ListServiceSpecificCredentials', { UserName: 'ada.lovelace' }))
      .reply(
        200,
        ok(
          'ListServiceSpecificCredentials',
          `<ServiceSpecificCredentials>${members(['<UserName>ada.lovelace</UserName><ServiceName>codecommit.amazonaws.com</ServiceName><ServiceUserName>ada-at-1</ServiceUserName><ServiceSpecificCredentialId>ACCASERVICE000000000001</ServiceSpecificCredentialId><Status>Active</Status><CreateDate>2024-01-01T00:00:00Z</CreateDate>'])}</ServiceSpecificCredentials>`,
        ),
        xml,
      );
    iam()
      .post('/', form('ListSigningCertificates', { UserName: 'ada.lovelace' }))
      .reply(
        200,
        ok(
          'ListSigningCertificates',
          `<Certificates>${members(['<UserName>ada.lovelace</UserName><CertificateId>CERT0000000000000000000000000001</CertificateId><CertificateBody>-----BEGIN CERTIFICATE-----</CertificateBody><Status>Active</Status><UploadDate>2024-01-01T00:00:00Z</UploadDate>'])}</Certificates><IsTruncated>false</IsTruncated>`,
        ),
        xml,
      );
    iam()
      .post('/', form('ListMFADevices', { UserName: 'ada.lovelace' }))
      .reply(
        200,
        ok(
          'ListMFADevices',
          `<MFADevices>${members(['<UserName>ada.lovelace</UserName><SerialNumber>arn:aws:iam::111122223333:mfa/ada</SerialNumber><EnableDate>2024-01-01T00:00:00Z</EnableDate>'])}</MFADevices><IsTruncated>false</IsTruncated>`,
        ),
        xml,
      );
    iam()
      .post('/', form('UpdateAccessKey', { UserName: 'ada.lovelace', AccessKeyId: 'AKIAACTIVE0000000001', Status: 'Inactive' }))
      .reply(200, ok('UpdateAccessKey'), xml);
    iam()
      .post('/', form('DeleteAccessKey', { UserName: 'ada.lovelace', AccessKeyId: 'AKIAACTIVE0000000001' }))
      .reply(200, ok('DeleteAccessKey'), xml);
    // Gone already (an earlier attempt got there): recorded apart, not an error.
    iam()
      .post('/', form('DeleteAccessKey', { UserName: 'ada.lovelace', AccessKeyId: 'AKIAINACTIVE00000002' }))
      .reply(404, error('NoSuchEntity', 'The Access Key with id AKIAINACTIVE00000002 cannot be found.'), xml);
    iam()
      .post('/', form('DeleteLoginProfile', { UserName: 'ada.lovelace' }))
      .reply(200, ok('DeleteLoginProfile'), xml);
    iam()
      .post('/', form('DeleteSSHPublicKey', { UserName: 'ada.lovelace', SSHPublicKeyId: 'APKASSH0000000000001' }))
      .reply(200, ok('DeleteSSHPublicKey'), xml);
    iam()
      .post(
        '/',
        form('DeleteServiceSpecificCredential', { UserName: 'ada.lovelace', ServiceSpecificCredentialId: 'ACCASERVICE000000000001' }),
      )
      .reply(200, ok('DeleteServiceSpecificCredential'), xml);
    iam()
      .post('/', form('DeleteSigningCertificate', { UserName: 'ada.lovelace', CertificateId: 'CERT0000000000000000000000000001' }))
      .reply(200, ok('DeleteSigningCertificate'), xml);
    iam()
      .post('/', form('DeactivateMFADevice', { UserName: 'ada.lovelace', SerialNumber: 'arn:aws:iam::111122223333:mfa/ada' }))
      .reply(200, ok('DeactivateMFADevice'), xml);
    const result = await provider().actions.revoke_credentials!.execute(account, ctx());
    expect(result.evidence).toEqual({
      userName: 'ada.lovelace',
      accessKeysDeactivated: ['AKIAACTIVE0000000001'],
      accessKeysDeleted: ['AKIAACTIVE0000000001'],
      sshPublicKeysDeleted: ['APKASSH0000000000001'],
      serviceSpecificCredentialsDeleted: ['ACCASERVICE000000000001'],
      signingCertificatesDeleted: ['CERT0000000000000000000000000001'],
      mfaDevicesDeactivated: ['arn:aws:iam::111122223333:mfa/ada'],
      loginProfileDeleted: true,
      alreadyGone: ['AKIAINACTIVE00000002'],
      alreadyDone: false,
    });
  });

  it('remove_groups verify: a group left is a VerificationError naming it', async () => {
    iam()
      .post('/', form('ListGroupsForUser', { UserName: 'ada.lovelace' }))
      .reply(
        200,
        ok(
          'ListGroupsForUser',
          `<Groups>${members(['<Path>/</Path><GroupName>admins</GroupName><GroupId>AGPA1</GroupId><Arn>arn:aws:iam::111122223333:group/admins</Arn><CreateDate>2024-01-01T00:00:00Z</CreateDate>'])}</Groups><IsTruncated>false</IsTruncated>`,
        ),
        xml,
      );
    const failure = await provider()
      .actions.remove_groups!.verify(account, ctx())
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(VerificationError);
    expect((failure as VerificationError).observed).toEqual({ userName: 'ada.lovelace', remainingGroups: ['admins'] });
  });

  it('delete_account: a user already gone is found absent by the read before, and nothing is deleted', async () => {
    iam()
      .post('/', form('GetUser', { UserName: 'ada.lovelace' }))
      .reply(404, error('NoSuchEntity', 'The user with name ada.lovelace cannot be found.'), xml);
    const result = await provider().actions.delete_account!.execute(account, ctx());
    expect(result.evidence).toMatchObject({ userId: 'ada.lovelace', deleted: false, alreadyAbsent: true, seenBy: 'read before delete' });
  });
});

describe("IAM's answers as typed errors", () => {
  const resolveWith = async (status: number, body: string, headers: Record<string, string> = xml) => {
    iam()
      .post('/', form('GetUser', { UserName: 'Ada.Lovelace' }))
      .reply(status, body, headers);
    return provider({ lookup: { by: 'userName', template: '{local}' } })
      .resolve(subject, ctx())
      .catch((e: unknown) => e);
  };

  it('Throttling (HTTP 400, no Retry-After) is a RateLimitedError with the default delay', async () => {
    const failure = await resolveWith(400, error('Throttling', 'Rate exceeded'));
    expect(failure).toBeInstanceOf(RateLimitedError);
    expect((failure as RateLimitedError).retryAfterMs).toBe(DEFAULT_THROTTLE_DELAY_MS);
  });

  it.each([
    [503, 'ServiceUnavailable', 'Receiver'],
    [500, 'ServiceFailure', 'Receiver'],
    [409, 'ConcurrentModification', 'Sender'],
  ])('HTTP %i %s is a TransientError', async (status, code, type) => {
    expect(await resolveWith(status, error(code, 'try again', type))).toBeInstanceOf(TransientError);
  });

  it('a 502 page that is not IAM XML is a TransientError', async () => {
    expect(await resolveWith(502, '<html>Bad Gateway</html>', { 'content-type': 'text/html' })).toBeInstanceOf(TransientError);
  });

  it.each([
    ['AccessDenied', /needs iam:GetUser/],
    ['InvalidClientTokenId', /access key id is unknown/],
    ['SignatureDoesNotMatch', /wrong secret access key/],
  ])('HTTP 403 %s is a PermanentError that says why', async (code, said) => {
    const failure = await resolveWith(403, error(code, 'refused'));
    expect(failure).toBeInstanceOf(PermanentError);
    expect((failure as Error).message).toMatch(said);
  });

  it('the secret key never reaches an error, even when the answer echoes it', async () => {
    const failure = await resolveWith(400, error('ValidationError', `bad request signed with ${SECRET}`));
    expect(failure).toBeInstanceOf(PermanentError);
    expect((failure as Error).message).not.toContain(SECRET);
    expect((failure as Error).message).toContain('[redacted]');
  });

  it('no answer at all is a TransientError', async () => {
    iam()
      .post('/', form('GetUser', { UserName: 'Ada.Lovelace' }))
      .replyWithError({ code: 'ECONNRESET', message: 'socket hang up' });
    const failure = await provider({ lookup: { by: 'userName', template: '{local}' } })
      .resolve(subject, ctx())
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(TransientError);
  });
});
