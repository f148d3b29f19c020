/**
 * The AWS IAM emulator's account: users with what hangs off them (access keys, login
 * profile, SSH keys, service-specific credentials, signing certificates, MFA devices,
 * inline and attached policies, tags) and groups. A user created on demand (autoProvision)
 * or seeded without details carries what a typical leaver has: two active access keys, a
 * console password, a virtual MFA device, membership of `developers` and an attached
 * managed policy, so every action has real work to do.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { AWS_SANDBOX_ACCOUNT_ID } from './sandbox-credentials.ts';

/** IAM's alphabet for generated ids (AKIA…, AIDA…, ASCA…): upper-case letters and digits. */
function iamId(prefix: string, length = 20): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const bytes = randomBytes(length - prefix.length);
  return prefix + [...bytes].map((b) => alphabet[b % alphabet.length]).join('');
}

const iso = (ms = Date.now()) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

export const USER_NAME = /^[\w+=,.@-]{1,64}$/;

export const awsSeedUserSchema = z
  .object({
    userName: z.string().regex(USER_NAME),
    path: z
      .string()
      .regex(/^\/([\x21-\x7e]*\/)?$/)
      .default('/'),
    tags: z.record(z.string().max(128), z.string().max(256)).default({}),
    accessKeys: z.number().int().min(0).max(2).default(2),
    loginProfile: z.boolean().default(true),
    mfaDevices: z.number().int().min(0).max(8).default(1),
    sshPublicKeys: z.number().int().min(0).max(5).default(0),
    serviceSpecificCredentials: z.number().int().min(0).max(4).default(0),
    signingCertificates: z.number().int().min(0).max(2).default(0),
    groups: z.array(z.string().regex(/^[\w+=,.@-]{1,128}$/)).default(['developers']),
    inlinePolicies: z.array(z.string().regex(/^[\w+=,.@-]{1,128}$/)).default([]),
    attachedPolicies: z
      .array(z.string().regex(/^arn:aws:iam::(aws|\d{12}):policy\/[\w+=,.@/-]{1,128}$/))
      .default(['arn:aws:iam::aws:policy/IAMUserChangePassword']),
  })
  .strict();
export type AwsSeedUser = z.input<typeof awsSeedUserSchema>;

export type Status = 'Active' | 'Inactive';

export interface SandboxIamUser {
  userName: string;
  userId: string;
  path: string;
  createDate: string;
  tags: Array<{ Key: string; Value: string }>;
  accessKeys: Array<{ AccessKeyId: string; Status: Status; CreateDate: string }>;
  loginProfile: { CreateDate: string; PasswordResetRequired: boolean } | null;
  sshPublicKeys: Array<{ SSHPublicKeyId: string; Status: Status; UploadDate: string }>;
  serviceSpecificCredentials: Array<{
    ServiceSpecificCredentialId: string;
    ServiceName: string;
    ServiceUserName: string;
    Status: Status;
    CreateDate: string;
  }>;
  signingCertificates: Array<{ CertificateId: string; Status: Status; UploadDate: string }>;
  mfaDevices: Array<{ SerialNumber: string; EnableDate: string }>;
  groups: Set<string>;
  inlinePolicies: Set<string>;
  attachedPolicies: Set<string>;
}

export interface SandboxGroup {
  groupName: string;
  groupId: string;
  path: string;
  createDate: string;
}

export const arnOfUser = (user: { path: string; userName: string }) =>
  `arn:aws:iam::${AWS_SANDBOX_ACCOUNT_ID}:user${user.path}${user.userName}`;
export const arnOfGroup = (group: SandboxGroup) => `arn:aws:iam::${AWS_SANDBOX_ACCOUNT_ID}:group${group.path}${group.groupName}`;

export class AwsState {
  /** Users by name; IAM user names are unique without regard to case, so the key is lower-cased. */
  readonly users = new Map<string, SandboxIamUser>();
  readonly groups = new Map<string, SandboxGroup>();
  /** Names of deleted users: autoProvision does not bring a deleted user back (its read-back must see it gone). */
  readonly deleted = new Set<string>();

  private readonly lostAnswers = new Map<string, number>();

  /** The next `count` calls of `action` take effect, and their answers are lost. */
  loseAnswers(action: string, count: number): void {
    this.lostAnswers.set(action, (this.lostAnswers.get(action) ?? 0) + count);
  }

  /** True (and one use spent) when this call's answer is to be lost. */
  takeLostAnswer(action: string): boolean {
    const remaining = this.lostAnswers.get(action) ?? 0;
    if (remaining <= 0) return false;
    if (remaining === 1) this.lostAnswers.delete(action);
    else this.lostAnswers.set(action, remaining - 1);
    return true;
  }

  delete(user: SandboxIamUser): void {
    this.users.delete(user.userName.toLowerCase());
    this.deleted.add(user.userName.toLowerCase());
  }

  user(name: string): SandboxIamUser | undefined {
    return this.users.get(name.toLowerCase());
  }

  group(name: string): SandboxGroup {
    let group = this.groups.get(name);
    if (!group) {
      group = { groupName: name, groupId: iamId('AGPA', 21), path: '/', createDate: iso() };
      this.groups.set(name, group);
    }
    return group;
  }

  create(input: AwsSeedUser): SandboxIamUser {
    const seed = awsSeedUserSchema.parse(input);
    const now = iso();
    const user: SandboxIamUser = {
      userName: seed.userName,
      userId: iamId('AIDA', 21),
      path: seed.path,
      createDate: now,
      tags: Object.entries(seed.tags).map(([Key, Value]) => ({ Key, Value })),
      accessKeys: Array.from({ length: seed.accessKeys }, () => ({
        AccessKeyId: iamId('AKIA'),
        Status: 'Active' as const,
        CreateDate: now,
      })),
      loginProfile: seed.loginProfile ? { CreateDate: now, PasswordResetRequired: false } : null,
      sshPublicKeys: Array.from({ length: seed.sshPublicKeys }, () => ({
        SSHPublicKeyId: iamId('APKA'),
        Status: 'Active' as const,
        UploadDate: now,
      })),
      serviceSpecificCredentials: Array.from({ length: seed.serviceSpecificCredentials }, (_v, i) => ({
        ServiceSpecificCredentialId: iamId('ACCA', 21),
        ServiceName: 'codecommit.amazonaws.com',
        ServiceUserName: `${seed.userName.slice(0, 40)}-at-${AWS_SANDBOX_ACCOUNT_ID}-${i}`,
        Status: 'Active' as const,
        CreateDate: now,
      })),
      signingCertificates: Array.from({ length: seed.signingCertificates }, () => ({
        CertificateId: randomBytes(16).toString('hex').toUpperCase(),
        Status: 'Active' as const,
        UploadDate: now,
      })),
      mfaDevices: Array.from({ length: seed.mfaDevices }, (_v, i) => ({
        SerialNumber: `arn:aws:iam::${AWS_SANDBOX_ACCOUNT_ID}:mfa/${seed.userName.slice(0, 50)}${i === 0 ? '' : `-${i}`}`,
        EnableDate: now,
      })),
      groups: new Set(seed.groups.map((g) => this.group(g).groupName)),
      inlinePolicies: new Set(seed.inlinePolicies),
      attachedPolicies: new Set(seed.attachedPolicies),
    };
    this.users.set(user.userName.toLowerCase(), user);
    return user;
  }

  /** Gives a user a new active access key behind the adapter's back (drift, in tests). */
  addAccessKey(user: SandboxIamUser): string {
    const id = iamId('AKIA');
    user.accessKeys.push({ AccessKeyId: id, Status: 'Active', CreateDate: iso() });
    return id;
  }

  /** A user's state as plain JSON, for tests through the control API. */
  snapshot(user: SandboxIamUser) {
    return {
      userName: user.userName,
      userId: user.userId,
      path: user.path,
      tags: user.tags,
      accessKeys: user.accessKeys,
      loginProfile: user.loginProfile !== null,
      sshPublicKeys: user.sshPublicKeys,
      serviceSpecificCredentials: user.serviceSpecificCredentials,
      signingCertificates: user.signingCertificates.map(({ CertificateId, Status }) => ({ CertificateId, Status })),
      mfaDevices: user.mfaDevices,
      groups: [...user.groups],
      inlinePolicies: [...user.inlinePolicies],
      attachedPolicies: [...user.attachedPolicies],
    };
  }
}
