/**
 * The IAM calls the adapter needs, on the official SDK (`@aws-sdk/client-iam`, which speaks
 * IAM's Query protocol: form-encoded POSTs signed with SigV4, XML answers). Built the way the
 * engine needs it: the SDK's retries off (`maxAttempts: 1`: the engine owns retries and
 * waits out throttling itself), every request through our fetch (sdk-handler.ts), static
 * credentials from the config (the SDK's default chain would read files and instance
 * metadata behind the config's back). Lists are read to the end (IsTruncated/Marker).
 */
import {
  DeactivateMFADeviceCommand,
  DeleteAccessKeyCommand,
  DeleteLoginProfileCommand,
  DeleteServiceSpecificCredentialCommand,
  DeleteSigningCertificateCommand,
  DeleteSSHPublicKeyCommand,
  DeleteUserCommand,
  DeleteUserPolicyCommand,
  DetachUserPolicyCommand,
  GetLoginProfileCommand,
  GetUserCommand,
  IAMClient,
  ListAccessKeysCommand,
  ListAttachedUserPoliciesCommand,
  ListGroupsForUserCommand,
  ListMFADevicesCommand,
  ListServiceSpecificCredentialsCommand,
  ListSigningCertificatesCommand,
  ListSSHPublicKeysCommand,
  ListUserPoliciesCommand,
  ListUsersCommand,
  ListUserTagsCommand,
  RemoveUserFromGroupCommand,
  UpdateAccessKeyCommand,
} from '@aws-sdk/client-iam';
import { PermanentError } from '../contract.ts';
import { noThrottle, type Throttle } from '../http/request.ts';
import type { AwsConfig } from './config.ts';
import { iamErrorCode, toIamError } from './errors.ts';
import { fetchRequestHandler } from './sdk-handler.ts';

export type { CallContext } from '../http/bearer.ts';
import type { CallContext } from '../http/bearer.ts';

/**
 * The user-scoped lists below answer null when the user itself is gone (NoSuchEntity):
 * nothing can remain on a user that does not exist, and callers say so in their evidence.
 */
/** Pages read of one list before giving up (IAM's largest page is 1,000). */
const MAX_PAGES = 100;
const PAGE_SIZE = 1000;

/** An IAM user as the adapter keeps it. */
export type IamUser = { userName: string; userId: string; arn: string; path: string };
// Type aliases, not interfaces: they go into evidence (JsonObject).
export type AccessKey = { accessKeyId: string; status: string };
export type SshKey = { sshPublicKeyId: string; status: string };
export type ServiceCredential = { serviceSpecificCredentialId: string; serviceName: string; status: string };
export type SigningCertificate = { certificateId: string; status: string };
export type MfaDevice = { serialNumber: string };
export type Group = { groupName: string; arn: string };
export type AttachedPolicy = { policyName: string; policyArn: string };

/** The SDK's commands, typed loosely: each call below reads its answer field by field. */
interface Sendable {
  send(command: unknown, options: { abortSignal: AbortSignal }): Promise<unknown>;
}

const str = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);

function need(value: unknown, action: string, field: string): string {
  const text = str(value);
  if (text === null) throw new PermanentError(`AWS IAM ${action}: an answer without ${field}`);
  return text;
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? (value as unknown[]) : [];
}

export class IamClient {
  private readonly sdk: Sendable;
  private readonly secrets: string[];

  /** `throttle`: the provider's request rate limit and the lease fence (ProviderFactoryContext.throttle). */
  constructor(config: AwsConfig, throttle: Throttle = noThrottle) {
    const { accessKeyId, secretAccessKey, sessionToken } = config.credentials;
    this.secrets = [secretAccessKey, sessionToken ?? ''];
    this.sdk = new IAMClient({
      region: config.region,
      ...(config.endpoint ? { endpoint: config.endpoint } : {}),
      credentials: { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) },
      maxAttempts: 1,
      requestHandler: fetchRequestHandler({ throttle, timeoutMs: config.requestTimeoutMs, summary: 'AWS IAM request' }),
    });
  }

  private async send(action: string, command: unknown, ctx: CallContext): Promise<Record<string, unknown>> {
    try {
      return ((await this.sdk.send(command, { abortSignal: ctx.signal })) ?? {}) as Record<string, unknown>;
    } catch (error) {
      throw toIamError(error, { action }, this.secrets);
    }
  }

  /** Like `send`, with IAM's `NoSuchEntity` (404) answered as null. */
  private async sendOrAbsent(action: string, command: unknown, ctx: CallContext): Promise<Record<string, unknown> | null> {
    try {
      return ((await this.sdk.send(command, { abortSignal: ctx.signal })) ?? {}) as Record<string, unknown>;
    } catch (error) {
      if (iamErrorCode(error) === 'NoSuchEntity') return null;
      throw toIamError(error, { action }, this.secrets);
    }
  }

  /** Every page of a Marker-paged list; `field` names the list in IAM's answer. */
  private async pages(
    action: string,
    field: string,
    command: (marker: string | undefined) => unknown,
    ctx: CallContext,
    absentIsNull = false,
  ): Promise<unknown[] | null> {
    const items: unknown[] = [];
    let marker: string | undefined;
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const answer = absentIsNull ? await this.sendOrAbsent(action, command(marker), ctx) : await this.send(action, command(marker), ctx);
      if (answer === null) return null;
      items.push(...list(answer[field]));
      const next = str(answer.Marker);
      if (answer.IsTruncated !== true) return items;
      if (next === null) throw new PermanentError(`AWS IAM ${action}: a truncated page without a Marker`);
      marker = next;
    }
    throw new PermanentError(`AWS IAM ${action}: more than ${MAX_PAGES} pages; refusing to guess`);
  }

  /** Null when no user has this name (NoSuchEntity). */
  async getUser(userName: string, ctx: CallContext): Promise<IamUser | null> {
    const answer = await this.sendOrAbsent('GetUser', new GetUserCommand({ UserName: userName }), ctx);
    return answer && toUser(answer.User, 'GetUser');
  }

  /** Every user under `pathPrefix`. */
  async listUsers(pathPrefix: string, ctx: CallContext): Promise<IamUser[]> {
    const users = await this.pages(
      'ListUsers',
      'Users',
      (Marker) => new ListUsersCommand({ PathPrefix: pathPrefix, Marker, MaxItems: PAGE_SIZE }),
      ctx,
    );
    return (users ?? []).map((u) => toUser(u, 'ListUsers'));
  }

  /** A user's tags; null when the user is gone. */
  async listUserTags(userName: string, ctx: CallContext): Promise<Array<{ key: string; value: string }> | null> {
    const tags = await this.pages(
      'ListUserTags',
      'Tags',
      (Marker) => new ListUserTagsCommand({ UserName: userName, Marker, MaxItems: PAGE_SIZE }),
      ctx,
      true,
    );
    return tags === null
      ? null
      : tags.map((t) => ({
          key: need((t as { Key?: unknown }).Key, 'ListUserTags', 'Key'),
          value: str((t as { Value?: unknown }).Value) ?? '',
        }));
  }

  async listAccessKeys(userName: string, ctx: CallContext): Promise<AccessKey[] | null> {
    const keys = await this.pages(
      'ListAccessKeys',
      'AccessKeyMetadata',
      (Marker) => new ListAccessKeysCommand({ UserName: userName, Marker }),
      ctx,
      true,
    );
    return keys === null
      ? null
      : keys.map((k) => {
          const key = k as { AccessKeyId?: unknown; Status?: unknown };
          return { accessKeyId: need(key.AccessKeyId, 'ListAccessKeys', 'AccessKeyId'), status: str(key.Status) ?? 'unknown' };
        });
  }

  /** Sets a key `Inactive`: it stops signing at once, and can still be seen until deleted. */
  async deactivateAccessKey(userName: string, accessKeyId: string, ctx: CallContext): Promise<'done' | 'gone'> {
    const answer = await this.sendOrAbsent(
      'UpdateAccessKey',
      new UpdateAccessKeyCommand({ UserName: userName, AccessKeyId: accessKeyId, Status: 'Inactive' }),
      ctx,
    );
    return answer ? 'done' : 'gone';
  }

  async deleteAccessKey(userName: string, accessKeyId: string, ctx: CallContext): Promise<'done' | 'gone'> {
    const answer = await this.sendOrAbsent(
      'DeleteAccessKey',
      new DeleteAccessKeyCommand({ UserName: userName, AccessKeyId: accessKeyId }),
      ctx,
    );
    return answer ? 'done' : 'gone';
  }

  /** Whether the user has a console password (GetLoginProfile answers NoSuchEntity when not). */
  async hasLoginProfile(userName: string, ctx: CallContext): Promise<boolean> {
    return (await this.sendOrAbsent('GetLoginProfile', new GetLoginProfileCommand({ UserName: userName }), ctx)) !== null;
  }

  async deleteLoginProfile(userName: string, ctx: CallContext): Promise<'done' | 'gone'> {
    const answer = await this.sendOrAbsent('DeleteLoginProfile', new DeleteLoginProfileCommand({ UserName: userName }), ctx);
    return answer ? 'done' : 'gone';
  }

  async listSshPublicKeys(userName: string, ctx: CallContext): Promise<SshKey[] | null> {
    const keys = await this.pages(
      'ListSSHPublicKeys',
      'SSHPublicKeys',
      (Marker) => new ListSSHPublicKeysCommand({ UserName: userName, Marker }),
      ctx,
      true,
    );
    return keys === null
      ? null
      : keys.map((k) => {
          const key = k as { SSHPublicKeyId?: unknown; Status?: unknown };
          return { sshPublicKeyId: need(key.SSHPublicKeyId, 'ListSSHPublicKeys', 'SSHPublicKeyId'), status: str(key.Status) ?? 'unknown' };
        });
  }

  async deleteSshPublicKey(userName: string, id: string, ctx: CallContext): Promise<'done' | 'gone'> {
    const answer = await this.sendOrAbsent(
      'DeleteSSHPublicKey',
      new DeleteSSHPublicKeyCommand({ UserName: userName, SSHPublicKeyId: id }),
      ctx,
    );
    return answer ? 'done' : 'gone';
  }

  /** Git (CodeCommit), Keyspaces and Bedrock credentials. IAM does not page this list. */
  async listServiceSpecificCredentials(userName: string, ctx: CallContext): Promise<ServiceCredential[] | null> {
    const answer = await this.sendOrAbsent(
      'ListServiceSpecificCredentials',
      new ListServiceSpecificCredentialsCommand({ UserName: userName }),
      ctx,
    );
    if (!answer) return null;
    return list(answer.ServiceSpecificCredentials).map((c) => {
      const credential = c as { ServiceSpecificCredentialId?: unknown; ServiceName?: unknown; Status?: unknown };
      return {
        serviceSpecificCredentialId: need(
          credential.ServiceSpecificCredentialId,
          'ListServiceSpecificCredentials',
          'ServiceSpecificCredentialId',
        ),
        serviceName: str(credential.ServiceName) ?? 'unknown',
        status: str(credential.Status) ?? 'unknown',
      };
    });
  }

  async deleteServiceSpecificCredential(userName: string, id: string, ctx: CallContext): Promise<'done' | 'gone'> {
    const answer = await this.sendOrAbsent(
      'DeleteServiceSpecificCredential',
      new DeleteServiceSpecificCredentialCommand({ UserName: userName, ServiceSpecificCredentialId: id }),
      ctx,
    );
    return answer ? 'done' : 'gone';
  }

  async listSigningCertificates(userName: string, ctx: CallContext): Promise<SigningCertificate[] | null> {
    const certificates = await this.pages(
      'ListSigningCertificates',
      'Certificates',
      (Marker) => new ListSigningCertificatesCommand({ UserName: userName, Marker }),
      ctx,
      true,
    );
    // Never the certificate body: the evidence names certificates, it does not carry them.
    return certificates === null
      ? null
      : certificates.map((c) => {
          const certificate = c as { CertificateId?: unknown; Status?: unknown };
          return {
            certificateId: need(certificate.CertificateId, 'ListSigningCertificates', 'CertificateId'),
            status: str(certificate.Status) ?? 'unknown',
          };
        });
  }

  async deleteSigningCertificate(userName: string, id: string, ctx: CallContext): Promise<'done' | 'gone'> {
    const answer = await this.sendOrAbsent(
      'DeleteSigningCertificate',
      new DeleteSigningCertificateCommand({ UserName: userName, CertificateId: id }),
      ctx,
    );
    return answer ? 'done' : 'gone';
  }

  /** The MFA devices assigned to the user (virtual and hardware; a deactivated one is no longer listed). */
  async listMfaDevices(userName: string, ctx: CallContext): Promise<MfaDevice[] | null> {
    const devices = await this.pages(
      'ListMFADevices',
      'MFADevices',
      (Marker) => new ListMFADevicesCommand({ UserName: userName, Marker }),
      ctx,
      true,
    );
    return devices === null
      ? null
      : devices.map((d) => ({ serialNumber: need((d as { SerialNumber?: unknown }).SerialNumber, 'ListMFADevices', 'SerialNumber') }));
  }

  async deactivateMfaDevice(userName: string, serialNumber: string, ctx: CallContext): Promise<'done' | 'gone'> {
    const answer = await this.sendOrAbsent(
      'DeactivateMFADevice',
      new DeactivateMFADeviceCommand({ UserName: userName, SerialNumber: serialNumber }),
      ctx,
    );
    return answer ? 'done' : 'gone';
  }

  async listGroupsForUser(userName: string, ctx: CallContext): Promise<Group[] | null> {
    const groups = await this.pages(
      'ListGroupsForUser',
      'Groups',
      (Marker) => new ListGroupsForUserCommand({ UserName: userName, Marker }),
      ctx,
      true,
    );
    return groups === null
      ? null
      : groups.map((g) => {
          const group = g as { GroupName?: unknown; Arn?: unknown };
          return { groupName: need(group.GroupName, 'ListGroupsForUser', 'GroupName'), arn: str(group.Arn) ?? '' };
        });
  }

  async removeUserFromGroup(userName: string, groupName: string, ctx: CallContext): Promise<'done' | 'gone'> {
    const answer = await this.sendOrAbsent(
      'RemoveUserFromGroup',
      new RemoveUserFromGroupCommand({ UserName: userName, GroupName: groupName }),
      ctx,
    );
    return answer ? 'done' : 'gone';
  }

  /** The names of the user's inline policies. */
  async listUserPolicies(userName: string, ctx: CallContext): Promise<string[] | null> {
    const names = await this.pages(
      'ListUserPolicies',
      'PolicyNames',
      (Marker) => new ListUserPoliciesCommand({ UserName: userName, Marker }),
      ctx,
      true,
    );
    return names === null ? null : names.map((n) => need(n, 'ListUserPolicies', 'a policy name'));
  }

  async deleteUserPolicy(userName: string, policyName: string, ctx: CallContext): Promise<'done' | 'gone'> {
    const answer = await this.sendOrAbsent(
      'DeleteUserPolicy',
      new DeleteUserPolicyCommand({ UserName: userName, PolicyName: policyName }),
      ctx,
    );
    return answer ? 'done' : 'gone';
  }

  async listAttachedUserPolicies(userName: string, ctx: CallContext): Promise<AttachedPolicy[] | null> {
    const policies = await this.pages(
      'ListAttachedUserPolicies',
      'AttachedPolicies',
      (Marker) => new ListAttachedUserPoliciesCommand({ UserName: userName, Marker }),
      ctx,
      true,
    );
    return policies === null
      ? null
      : policies.map((p) => {
          const policy = p as { PolicyName?: unknown; PolicyArn?: unknown };
          return { policyName: str(policy.PolicyName) ?? '', policyArn: need(policy.PolicyArn, 'ListAttachedUserPolicies', 'PolicyArn') };
        });
  }

  async detachUserPolicy(userName: string, policyArn: string, ctx: CallContext): Promise<'done' | 'gone'> {
    const answer = await this.sendOrAbsent(
      'DetachUserPolicy',
      new DetachUserPolicyCommand({ UserName: userName, PolicyArn: policyArn }),
      ctx,
    );
    return answer ? 'done' : 'gone';
  }

  async deleteUser(userName: string, ctx: CallContext): Promise<'done' | 'gone'> {
    const answer = await this.sendOrAbsent('DeleteUser', new DeleteUserCommand({ UserName: userName }), ctx);
    return answer ? 'done' : 'gone';
  }

  /**
   * One user of the account (`ListUsers`, one item): a signed read that works for a user's or a
   * role's credentials alike (`GetUser` without a name refuses a role), for validate().
   */
  async probe(ctx: CallContext): Promise<void> {
    await this.send('ListUsers', new ListUsersCommand({ MaxItems: 1 }), ctx);
  }
}

function toUser(value: unknown, action: string): IamUser {
  const user = (value ?? {}) as { UserName?: unknown; UserId?: unknown; Arn?: unknown; Path?: unknown };
  return {
    userName: need(user.UserName, action, 'UserName'),
    userId: str(user.UserId) ?? '',
    arn: str(user.Arn) ?? '',
    path: str(user.Path) ?? '/',
  };
}
