/** `deprovisiond demo`: progress by step name, one line of proof per task, and the printable evidence page on disk. */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runDemo } from '../src/demo.ts';

describe('deprovisiond demo', () => {
  it('names each step in its progress, labels each proof honestly, and writes the evidence page', async () => {
    let text = '';
    const code = await runDemo({ out: { write: (chunk: string) => ((text += chunk), true) } as unknown as NodeJS.WritableStream });
    expect(code).toBe(0);
    expect(text).toMatch(/\+\d+\.\d{3}s {2}okta-suspend {15}okta {7}succeeded\n/);
    expect(text).toMatch(/\n {2}collect-laptop +succeeded +attested by admin:admin: demo: laptop and badge collected\n/);
    expect(text).toMatch(/\n {2}google-suspend +succeeded +verified by read-back: suspended=true/);
    // Google's backup codes and recovery email/phone, cleared before the suspension and read back.
    expect(text).toMatch(
      /\n {2}google-clear-recovery +succeeded +verified by read-back: backupCodesRemaining=0, recoveryEmail=empty, recoveryPhone=empty/,
    );
    expect(text).toMatch(/\n {2}google-remove-mfa +succeeded +verified by read-back: isEnrolledIn2Sv=false/);
    expect(text).toMatch(
      /\n {2}google-remove-admin-roles +succeeded +verified by read-back: isAdmin=false, isDelegatedAdmin=false, roleAssignmentsRemaining=0/,
    );
    expect(text).toMatch(
      /\n {2}google-reset-password +succeeded +not verifiable \(password: the Directory API exposes no password-changed time\); read back/,
    );
    // Gmail forwarding, filters, IMAP and POP, and the anyone-with-the-link files, shut and read back at the sandbox.
    expect(text).toMatch(
      /\n {2}google-stop-forwarding +succeeded +verified by read-back: autoForwarding=false, imap=false, pop=disabled, forwardingFilters=/,
    );
    expect(text).toMatch(/\n {2}google-revoke-public-links +succeeded +verified by read-back: links=anyone, publicPermissionsRemaining=0/);
    expect(text).toMatch(/\n {2}notify-started +succeeded +acknowledged by the receiver \(no read API\): /);
    // Every kind in the sandbox shuts its door, read back: badges, a SCIM app, Slack, GitHub, Active Directory and OpenLDAP.
    expect(text).toMatch(/\n {2}badge-deactivate +succeeded +verified by read-back: userId=\d+, suspended=true, remainingCredentials=\[\]/);
    expect(text).toMatch(/\n {2}app-disable +succeeded +verified by read-back: /);
    expect(text).toMatch(
      /\n {2}slack-revoke-sessions +succeeded +verified by read-back: userId=W\w+, activeSessions=0, workspacesChecked=/,
    );
    expect(text).toMatch(
      /\n {2}slack-deactivate +succeeded +verified by read-back: userId=W\w+, mode=scim_patch, scimActive=false, deleted=true/,
    );
    expect(text).toMatch(/\n {2}ad-disable +succeeded +verified by read-back: disabled=true, userAccountControl=514, accountExpires=\d+/);
    expect(text).toMatch(/\n {2}ad-remove-groups +succeeded +verified by read-back: remainingGroups=\[\], primaryGroupID=513/);
    expect(text).toMatch(/\n {2}ad-delete +succeeded +verified by read-back: id=\S+, found=false/);
    expect(text).toMatch(/\n {2}openldap-lock +succeeded +verified by read-back: disabled=true, pwdAccountLockedTime=000001010000Z/);
    expect(text).toMatch(/\n {2}openldap-remove-groups +succeeded +verified by read-back: remainingGroups=\[\]/);
    // GitHub: the leaver's SSO-authorized tokens and SSH keys revoked, and out of the organization.
    expect(text).toMatch(
      /\n {2}github-revoke-credentials +succeeded +verified by read-back: login=[\w-]+, org=deprovisiond-sandbox, remainingCredentialA/,
    );
    expect(text).toMatch(
      /\n {2}github-remove-from-org +succeeded +verified by read-back: login=[\w-]+, org=deprovisiond-sandbox, membership=none \(404/,
    );
    // AWS IAM: the leaver's two access keys, console password and MFA device gone, out of the group, then deleted, each read back.
    expect(text).toMatch(
      /\n {2}aws-revoke-credentials +succeeded +verified by read-back: accessKeys=0, loginProfile=false, mfaDevices=0, /,
    );
    expect(text).toMatch(/\n {2}aws-remove-groups +succeeded +verified by read-back: userName=ada\.lovelace, remainingGroups=\[\]\n/);
    expect(text).toMatch(/\n {2}aws-delete +succeeded +verified by read-back: userName=ada\.lovelace, found=false\n/);
    // Okta: the doors a suspend leaves open, each read back at the sandbox (issue 32).
    expect(text).toMatch(/\n {2}okta-remove-mfa +succeeded +verified by read-back: userId=00u\w+, remainingFactors=\[\]/);
    expect(text).toMatch(/\n {2}okta-remove-admin-roles +succeeded +verified by read-back: userId=00u\w+, remainingRoles=\[\]/);
    expect(text).toMatch(/\n {2}okta-reset-password +succeeded +verified by read-back: userId=00u\w+, status=\w+, passwordChanged=\d{4}/);
    // Microsoft: every MFA method but the password removed, the forwarding inbox rules and the admin roles, read back.
    expect(text).toMatch(/\n {2}microsoft-remove-mfa +succeeded +verified by read-back: remainingMethods=/);
    expect(text).toMatch(/\n {2}microsoft-stop-forwarding +succeeded +verified by read-back: rules=forwarding, remainingForwardingRules=0/);
    expect(text).toMatch(/\n {2}microsoft-remove-admin-roles +succeeded +verified by read-back: remainingRoleAssignments=0/);
    expect(text).toMatch(
      /\n {2}microsoft-revoke-sessions +succeeded +verified by read-back: remainingGrants=0, signInSessionsValidFromDateTime=\d{4}-/,
    );
    expect(text).toMatch(/\n {2}microsoft-reset-password +succeeded +verified by read-back: lastPasswordChangeDateTime=\d{4}-/);
    // The leaver's anyone link on a OneDrive folder, gone before the drive is shared with the manager.
    expect(text).toMatch(/\n {2}microsoft-revoke-public-links +succeeded +verified by read-back: remainingLinks=0, scopes=\["anonymous"\]/);
    // The phones get their wipe command; the device acknowledges later (re-verification), so the proof says "requested".
    expect(text).toMatch(
      /\n {2}google-wipe-devices +succeeded +requested, not yet acknowledged \(wipe: 1 of 1 device\(s\) have not synced/,
    );
    expect(text).toMatch(
      /\n {2}microsoft-wipe-devices +succeeded +requested, not yet acknowledged \(retire: 1 managed device\(s\) have not/,
    );
    // ...and the demo says where the acknowledgement comes from, naming both wipes and the command for this termination.
    expect(text).toMatch(
      /\n {2}acknowledgement to follow: (google-wipe-devices, microsoft-wipe-devices|microsoft-wipe-devices, google-wipe-devices) requested; each device carries its wipe out when it next syncs, and the first re-verification that then reads it done records the acknowledgement in the evidence \(scheduled after completion, or now: deprovisiond reverify [0-9a-f-]{36}; /,
    );
    const page = /evidence page \(printable\): (\S+)\n/.exec(text)?.[1];
    expect(page && existsSync(page)).toBe(true);
    try {
      expect(readFileSync(page!, 'utf8')).toMatch(/^<!doctype html>/);
    } finally {
      rmSync(page!, { force: true });
    }
    expect(text).toMatch(/termination completed: 48\/48 tasks done \((\d+ [a-z ]+)(, \d+ [a-z ]+)*\)\n$/);
    // "verified" only for what was read back: the session revocations Okta and Google cannot
    // read are not, nor is Google's password reset (the Directory API has no password-changed time).
    expect(text).toMatch(/\b3 not verifiable\b/);
    expect(text).toMatch(/\b2 requested\b/);
    expect(text).toMatch(/\b\d+ verified by read back\b/);
  }, 60_000);

  it('offboards a client organization with --customer: its people, its tenant, its billing, its emails, one evidence', async () => {
    let text = '';
    const code = await runDemo({
      customer: true,
      out: { write: (chunk: string) => ((text += chunk), true) } as unknown as NodeJS.WritableStream,
    });
    expect(code).toBe(0);
    expect(text).toContain('client Initech (CUST-1042): 25 people at okta (initech.example), 25 at app (organization Initech)');
    // Every member found at each provider and cut, read back where the provider can be read.
    expect(text).toMatch(
      /\n {2}okta-members +50 member task\(s\): 25 disable_account verified by read back, 25 revoke_sessions not verifiable\n/,
    );
    expect(text).toMatch(/\n {2}app-members +25 member task\(s\): 25 disable_account verified by read back\n/);
    expect(text).toMatch(/\n {2}inhouse-export +succeeded +verified by read-back: readyExports=1, downloadLinkPresent=true/);
    expect(text).toMatch(/\n {2}inhouse-delete +succeeded +verified by read-back: records=0, dataDeleted=true/);
    expect(text).toMatch(/\n {2}billing-settle +succeeded +verified by read-back: customer=cus_\w+, outstandingInvoices=0\n/);
    expect(text).toMatch(/\n {2}material-returned +succeeded +attested by admin:admin: demo: confirmed with the client in writing\n/);
    expect(text).toContain('email to account.owner@example.com: "Offboarding of Initech has started"');
    expect(text).toContain('email to it@initech.example, finance@initech.example: "Your data export is ready"');
    expect(text).toContain('email to it@initech.example, finance@initech.example: "Your account has been closed"');
    const page = /evidence page \(printable\): (\S+)\n/.exec(text)?.[1];
    rmSync(page!, { force: true });
    expect(text).toMatch(/termination completed: 91\/91 tasks done \(/);
  }, 60_000);
});
