/**
 * A real OpenLDAP server for the LDAP tests: Debian's /usr/sbin/slapd with a generated
 * slapd.conf in a temp dir: mdb backend; ppolicy with a default policy with pwdLockout
 * (ppolicy honours pwdAccountLockedTime only then) that keeps pwdChangedTime; refint so
 * renames and deletes follow group members. It listens on loopback ports for ldap://
 * (StartTLS) and ldaps://, with a certificate from a throwaway CA, is seeded through
 * ldapts as the root DN, and the adapter binds as a service account the ACLs allow.
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'ldapts';
import { freePort, makeCertificates, serverAvailable, startServer, waitForPort, type ServerProcess } from './directory-server.ts';

export const SLAPD = '/usr/sbin/slapd';
export const SLAPD_BASE = 'dc=example,dc=org';
export const SLAPD_ROOT_DN = `cn=admin,${SLAPD_BASE}`;
export const SLAPD_SERVICE_DN = `cn=svc-deprovisiond,${SLAPD_BASE}`;
/** Test-only passwords of a throwaway server. */
const ROOT_PASSWORD = 'slapd-root-test-password';
export const SLAPD_SERVICE_PASSWORD = 'slapd-service-test-password';

export interface Slapd {
  /** ldap:// on loopback (StartTLS available). */
  url: string;
  /** ldaps:// on loopback. */
  ldapsUrl: string;
  /** PEM of the CA that signed the server's certificate. */
  ca: string;
  /** A client bound as the root DN, for seeding and for reading what the adapter did. */
  admin(): Promise<Client>;
  stop(): Promise<void>;
}

export function slapdAvailable(): boolean {
  return serverAvailable(SLAPD, 'OpenLDAP slapd');
}

function slapdConf(dir: string, tls: { caFile: string; certFile: string; keyFile: string }): string {
  return `
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload ppolicy
moduleload refint
pidfile ${dir}/slapd.pid
argsfile ${dir}/slapd.args
TLSCACertificateFile ${tls.caFile}
TLSCertificateFile ${tls.certFile}
TLSCertificateKeyFile ${tls.keyFile}

database mdb
suffix "${SLAPD_BASE}"
rootdn "${SLAPD_ROOT_DN}"
rootpw ${ROOT_PASSWORD}
directory ${dir}/db
maxsize 33554432

overlay ppolicy
ppolicy_default "cn=default,ou=policies,${SLAPD_BASE}"
overlay refint
refint_attributes member uniqueMember

# The service account writes what the adapter writes; nobody else reads passwords.
access to attrs=userPassword
  by dn.exact="${SLAPD_SERVICE_DN}" write
  by anonymous auth
  by * none
access to *
  by dn.exact="${SLAPD_SERVICE_DN}" write
  by * none
`;
}

export async function startSlapd(): Promise<Slapd> {
  const dir = mkdtempSync(join(tmpdir(), 'deprovisiond-slapd-'));
  mkdirSync(join(dir, 'db'));
  const tls = makeCertificates(dir);
  writeFileSync(join(dir, 'slapd.conf'), slapdConf(dir, tls));
  const [port, ldapsPort] = [await freePort(), await freePort()];
  const url = `ldap://127.0.0.1:${port}`;
  const ldapsUrl = `ldaps://127.0.0.1:${ldapsPort}`;
  // -d 0: stay in the foreground (the test owns the process) and log nothing but errors.
  let server: ServerProcess | null = startServer(SLAPD, ['-f', join(dir, 'slapd.conf'), '-h', `${url}/ ${ldapsUrl}/`, '-d', '0']);
  const stop = async () => {
    await server?.stop();
    server = null;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(port, server.child, server.output);
    await waitForPort(ldapsPort, server.child, server.output);
    const admin = async () => {
      const client = new Client({ url });
      await client.bind(SLAPD_ROOT_DN, ROOT_PASSWORD);
      return client;
    };
    const client = await admin();
    try {
      await seed(client);
    } finally {
      await client.unbind();
    }
    return { url, ldapsUrl, ca: readFileSync(tls.caFile, 'utf8'), admin, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function seed(client: Client): Promise<void> {
  await client.add(SLAPD_BASE, { objectClass: ['top', 'dcObject', 'organization'], dc: 'example', o: 'Example' });
  for (const ou of ['people', 'groups', 'policies', 'disabled'])
    await client.add(`ou=${ou},${SLAPD_BASE}`, { objectClass: ['organizationalUnit'], ou });
  await client.add(SLAPD_SERVICE_DN, {
    objectClass: ['person'],
    cn: 'svc-deprovisiond',
    sn: 'service',
    userPassword: SLAPD_SERVICE_PASSWORD,
  });
  await client.add(`cn=default,ou=policies,${SLAPD_BASE}`, {
    objectClass: ['person', 'pwdPolicy'],
    cn: 'default',
    sn: 'policy',
    pwdAttribute: 'userPassword',
    pwdLockout: 'TRUE',
  });
  await client.add(`cn=owner,ou=people,${SLAPD_BASE}`, { objectClass: ['inetOrgPerson'], cn: 'owner', sn: 'owner', uid: 'owner' });
}

export interface SeededPerson {
  dn: string;
  uid: string;
  mail: string;
}

/** Adds a person with a password, in three groups: groupOfNames (member), groupOfUniqueNames (uniqueMember), posixGroup (memberUid). */
export async function addPerson(client: Client, uid: string): Promise<SeededPerson> {
  const dn = `uid=${uid},ou=people,${SLAPD_BASE}`;
  const mail = `${uid}@example.org`;
  await client.add(dn, { objectClass: ['inetOrgPerson'], cn: uid, sn: uid, uid, mail, userPassword: `initial-${uid}` });
  const owner = `cn=owner,ou=people,${SLAPD_BASE}`;
  const groups: Array<[string, Record<string, string[] | string>]> = [
    [`cn=eng-${uid},ou=groups,${SLAPD_BASE}`, { objectClass: 'groupOfNames', member: [owner, dn] }],
    [`cn=admins-${uid},ou=groups,${SLAPD_BASE}`, { objectClass: 'groupOfUniqueNames', uniqueMember: [owner, dn] }],
    [`cn=staff-${uid},ou=groups,${SLAPD_BASE}`, { objectClass: 'posixGroup', gidNumber: '5000', memberUid: ['owner', uid] }],
  ];
  for (const [groupDn, attributes] of groups) await client.add(groupDn, { cn: groupDn.split(',')[0]!.slice(3), ...attributes });
  return { dn, uid, mail };
}
