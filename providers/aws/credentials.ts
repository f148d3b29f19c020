/**
 * Everything an IAM user signs in or signs requests with, removed and read back: access keys
 * (set Inactive first, so a key stops working even if its delete then fails, then deleted),
 * the console password (login profile), SSH public keys (CodeCommit), service-specific
 * credentials (Git, Keyspaces, Bedrock), signing certificates, and MFA devices (deactivated:
 * the device is no longer the user's). Shared by `revoke_credentials` and `delete_account`,
 * which must clear the same things before IAM lets the user go.
 */
import type { JsonObject } from '../../src/domain/types.ts';
import type { CallContext, IamClient } from './client.ts';

/** What is left on a user, by kind; null when the user itself is gone. */
export type RemainingCredentials = {
  activeAccessKeys: string[];
  accessKeys: string[];
  loginProfile: boolean;
  sshPublicKeys: string[];
  serviceSpecificCredentials: string[];
  signingCertificates: string[];
  mfaDevices: string[];
};

/** The count of things left (an inactive key counts: it can be set Active again). */
export function remainingCount(r: RemainingCredentials): number {
  return (
    r.accessKeys.length +
    (r.loginProfile ? 1 : 0) +
    r.sshPublicKeys.length +
    r.serviceSpecificCredentials.length +
    r.signingCertificates.length +
    r.mfaDevices.length
  );
}

/** Reads every kind of credential of the user; null when the user no longer exists. */
export async function readCredentials(client: IamClient, userName: string, ctx: CallContext): Promise<RemainingCredentials | null> {
  const keys = await client.listAccessKeys(userName, ctx);
  if (keys === null) return null;
  const loginProfile = await client.hasLoginProfile(userName, ctx);
  const ssh = await client.listSshPublicKeys(userName, ctx);
  const service = await client.listServiceSpecificCredentials(userName, ctx);
  const certificates = await client.listSigningCertificates(userName, ctx);
  const mfa = await client.listMfaDevices(userName, ctx);
  if (ssh === null || service === null || certificates === null || mfa === null) return null;
  return {
    activeAccessKeys: keys.filter((k) => k.status === 'Active').map((k) => k.accessKeyId),
    accessKeys: keys.map((k) => k.accessKeyId),
    loginProfile,
    sshPublicKeys: ssh.map((k) => k.sshPublicKeyId),
    serviceSpecificCredentials: service.map((c) => c.serviceSpecificCredentialId),
    signingCertificates: certificates.map((c) => c.certificateId),
    mfaDevices: mfa.map((d) => d.serialNumber),
  };
}

/**
 * Removes every credential found. Each write is harmless to repeat, and IAM's NoSuchEntity
 * on one ("gone": an earlier attempt got there first) is recorded apart from a removal.
 * Access key ids and MFA serials are identifiers, not secrets (they appear in CloudTrail);
 * the evidence names them so an auditor can match the trail.
 */
export async function revokeCredentials(client: IamClient, userName: string, ctx: CallContext): Promise<JsonObject> {
  const found = await readCredentials(client, userName, ctx);
  if (found === null) return { userName, userAbsent: true, alreadyDone: true };
  const done: Record<string, string[]> = {
    accessKeysDeactivated: [],
    accessKeysDeleted: [],
    sshPublicKeysDeleted: [],
    serviceSpecificCredentialsDeleted: [],
    signingCertificatesDeleted: [],
    mfaDevicesDeactivated: [],
  };
  const alreadyGone: string[] = [];
  const record = (outcome: 'done' | 'gone', list: string[], id: string) => (outcome === 'done' ? list.push(id) : alreadyGone.push(id));
  for (const id of found.activeAccessKeys) record(await client.deactivateAccessKey(userName, id, ctx), done.accessKeysDeactivated!, id);
  for (const id of found.accessKeys) record(await client.deleteAccessKey(userName, id, ctx), done.accessKeysDeleted!, id);
  const loginProfileDeleted = found.loginProfile && (await client.deleteLoginProfile(userName, ctx)) === 'done';
  for (const id of found.sshPublicKeys) record(await client.deleteSshPublicKey(userName, id, ctx), done.sshPublicKeysDeleted!, id);
  for (const id of found.serviceSpecificCredentials) {
    record(await client.deleteServiceSpecificCredential(userName, id, ctx), done.serviceSpecificCredentialsDeleted!, id);
  }
  for (const id of found.signingCertificates)
    record(await client.deleteSigningCertificate(userName, id, ctx), done.signingCertificatesDeleted!, id);
  for (const serial of found.mfaDevices)
    record(await client.deactivateMfaDevice(userName, serial, ctx), done.mfaDevicesDeactivated!, serial);
  const changed = loginProfileDeleted || Object.values(done).some((ids) => ids.length > 0);
  return { userName, ...done, loginProfileDeleted, alreadyGone, alreadyDone: !changed };
}

/** The read-back as evidence: what remains of each kind, the commonest first (a printed proof line may be cut short). */
export function remainingEvidence(userName: string, r: RemainingCredentials): JsonObject {
  return {
    accessKeys: r.accessKeys.length,
    loginProfile: r.loginProfile,
    mfaDevices: r.mfaDevices.length,
    sshPublicKeys: r.sshPublicKeys.length,
    serviceSpecificCredentials: r.serviceSpecificCredentials.length,
    signingCertificates: r.signingCertificates.length,
    userName,
  };
}
