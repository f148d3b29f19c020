/**
 * A real Active Directory domain controller for the AD tests: Debian's Samba, provisioned
 * with `samba-tool domain provision` into a temp dir (realm CORP.EXAMPLE.COM, no DNS) and
 * run in the foreground with only its LDAP service, on 127.0.0.1. Samba has no setting
 * for its LDAP ports: it listens on 389 and 636, so one such test file runs at a time on
 * a machine, and it needs root. LDAPS uses a certificate from a throwaway CA, which the
 * tests pin. Seeded through ldapts as Administrator.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'ldapts';
import { Attribute, Change } from 'ldapts';
import { makeCertificates, portInUse, run, serverAvailable, startServer, waitForPort, type ServerProcess } from './directory-server.ts';

export const SAMBA = '/usr/sbin/samba';
export const AD_BASE = 'DC=corp,DC=example,DC=com';
export const AD_ADMIN_DN = `CN=Administrator,CN=Users,${AD_BASE}`;
/** Test-only password of a throwaway domain (meets AD's complexity rules). */
export const AD_ADMIN_PASSWORD = 'Samba-Test-Adm1n!';
export const AD_LDAP_PORT = 389;
export const AD_LDAPS_PORT = 636;

export interface SambaAd {
  ldapUrl: string;
  ldapsUrl: string;
  ca: string;
  admin(): Promise<Client>;
  /** Adds ACEs (SDDL) to an object's security descriptor, as an administrator delegating rights does. */
  grant(objectDn: string, sddl: string): void;
  stop(): Promise<void>;
}

/** Samba AD needs its binary and root (it binds ports 389 and 636). */
export function sambaAvailable(): boolean {
  if (!serverAvailable(SAMBA, 'Samba AD domain controller')) return false;
  if (process.getuid?.() === 0) return true;
  const message = 'Samba AD needs root (it listens on ports 389 and 636)';
  if (process.env.CI) throw new Error(`${message}; CI runs the real-directory tests and does not skip them`);
  console.log(`${message}. Skipping the tests against a real Samba AD.`);
  return false;
}

export async function startSambaAd(): Promise<SambaAd> {
  const dir = mkdtempSync(join(tmpdir(), 'deprovisiond-samba-'));
  const target = join(dir, 'dc');
  let server: ServerProcess | null = null;
  const stop = async () => {
    await server?.stop();
    server = null;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // Samba cannot move its LDAP ports: another server there would answer in its place.
    for (const port of [AD_LDAP_PORT, AD_LDAPS_PORT]) {
      if (await portInUse(port))
        throw new Error(
          `port ${port} is in use (a system slapd or Samba?): stop that server so the test's domain controller can listen there`,
        );
    }
    run(
      'samba-tool',
      [
        'domain',
        'provision',
        '--use-rfc2307',
        '--realm=CORP.EXAMPLE.COM',
        '--domain=CORP',
        '--server-role=dc',
        '--dns-backend=NONE',
        `--targetdir=${target}`,
        `--adminpass=${AD_ADMIN_PASSWORD}`,
        '--option=interfaces=lo',
        '--option=bind interfaces only=yes',
      ],
      { timeoutMs: 180_000 },
    );
    const tls = makeCertificates(dir);
    chmodSync(tls.keyFile, 0o600);
    const conf = join(target, 'etc', 'smb.conf');
    // Only the LDAP server (no winbindd, SMB, KDC...), logs in the temp dir, our certificate.
    const settings = readFileSync(conf, 'utf8')
      .replace(/server services = .*/, 'server services = ldap')
      .replace(/log file = .*/, `log file = ${join(dir, 'log.%m')}`)
      .replace(
        '[global]',
        `[global]\n\ttls enabled = yes\n\ttls keyfile = ${tls.keyFile}\n\ttls certfile = ${tls.certFile}\n\ttls cafile = ${tls.caFile}`,
      );
    writeFileSync(conf, settings);
    server = startServer(SAMBA, ['-i', '-M', 'single', '-s', conf]);
    await waitForPort(AD_LDAPS_PORT, server.child, server.output, 60_000);
    const ca = readFileSync(tls.caFile, 'utf8');
    const ldapsUrl = `ldaps://127.0.0.1:${AD_LDAPS_PORT}`;
    const admin = async () => {
      const client = new Client({ url: ldapsUrl, tlsOptions: { ca: [ca] } });
      await client.bind(AD_ADMIN_DN, AD_ADMIN_PASSWORD);
      return client;
    };
    const client = await admin();
    try {
      await client.add(`OU=Disabled Users,${AD_BASE}`, { objectClass: ['top', 'organizationalUnit'], ou: 'Disabled Users' });
    } finally {
      await client.unbind();
    }
    const grant = (objectDn: string, sddl: string) => {
      run('samba-tool', ['dsacl', 'set', '-H', join(target, 'private', 'sam.ldb'), `--objectdn=${objectDn}`, `--sddl=${sddl}`, '-s', conf]);
    };
    return { ldapUrl: `ldap://127.0.0.1:${AD_LDAP_PORT}`, ldapsUrl, ca, admin, grant, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

export interface SeededAdUser {
  dn: string;
  sAMAccountName: string;
  userPrincipalName: string;
  password: string;
}

/** An enabled user with a password, a member of two new groups (Domain Users stays its primary group). */
export async function addAdUser(client: Client, name: string): Promise<SeededAdUser> {
  const dn = `CN=${name},CN=Users,${AD_BASE}`;
  const userPrincipalName = `${name}@corp.example.com`;
  const password = `Initial-${name}-Pw1!`;
  await client.add(dn, {
    objectClass: ['top', 'person', 'organizationalPerson', 'user'],
    sAMAccountName: name,
    userPrincipalName,
    mail: `${name}@example.com`,
  });
  await client.modify(dn, [
    new Change({
      operation: 'replace',
      modification: new Attribute({ type: 'unicodePwd', values: [Buffer.from(`"${password}"`, 'utf16le')] }),
    }),
    // NORMAL_ACCOUNT: enabled.
    new Change({ operation: 'replace', modification: new Attribute({ type: 'userAccountControl', values: ['512'] }) }),
  ]);
  for (const group of [`${name}-engineering`, `${name}-vpn`]) {
    await client.add(`CN=${group},CN=Users,${AD_BASE}`, { objectClass: ['top', 'group'], sAMAccountName: group, member: dn });
  }
  return { dn, sAMAccountName: name, userPrincipalName, password };
}

/** The account's SID in its string form (S-1-5-21-...), from the binary objectSid. */
export async function sidOf(client: Client, dn: string): Promise<string> {
  const { searchEntries } = await client.search(dn, { scope: 'base', attributes: ['objectSid'], explicitBufferAttributes: ['objectSid'] });
  const sid = searchEntries[0]!.objectSid as Buffer;
  const authority = sid.readUIntBE(2, 6);
  const subs = Array.from({ length: sid[1]! }, (_, i) => sid.readUInt32LE(8 + 4 * i));
  return `S-${sid[0]}-${authority}-${subs.join('-')}`;
}
