/**
 * What the real-directory tests share (tests/helpers/slapd.ts, samba-ad.ts): finding the
 * server binary (missing: skipped with a printed reason on a workstation, a failure in
 * CI, where scripts/ensure-ldap.sh installs it first), free loopback ports, waiting for a
 * port to accept connections, and the child process's lifetime.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { Client } from 'ldapts';

/**
 * Whether the tests that need `binary` run here; prints why not, and in CI refuses to skip.
 * `installed` decides presence when more than the binary is needed (a Python module).
 */
export function serverAvailable(
  binary: string,
  what: string,
  { script = 'scripts/ensure-ldap.sh', installed = () => existsSync(binary) }: { script?: string; installed?: () => boolean } = {},
): boolean {
  if (installed()) return true;
  const message = `${what} (${binary}) is not installed: run ${script}`;
  if (process.env.CI) throw new Error(`${message}; CI runs the real-directory tests and does not skip them`);
  console.log(`${message}. Skipping the tests against a real ${what}.`);
  return false;
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Something accepts connections on 127.0.0.1:`port`. */
export function portInUse(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

export async function waitForPort(port: number, child: ChildProcess, output: () => string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited (${child.exitCode}) before listening on ${port}:\n${output()}`);
    if (await portInUse(port)) return;
    if (Date.now() > deadline) throw new Error(`the server did not listen on ${port} within ${timeoutMs} ms:\n${output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface ServerProcess {
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** Starts `command` in the foreground; `stop()` sends SIGTERM, then SIGKILL after 5 s. */
export function startServer(command: string, args: string[]): ServerProcess {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000)));
  child.stderr.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000)));
  return {
    child,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Runs a command to completion; throws with its output when it fails. */
export function run(command: string, args: string[], options: { cwd?: string; timeoutMs?: number } = {}): string {
  const result = spawnSync(command, args, { cwd: options.cwd, encoding: 'utf8', timeout: options.timeoutMs ?? 120_000 });
  if (result.status !== 0)
    throw new Error(`${command} ${args.join(' ')} failed (${result.status ?? result.signal}):\n${result.stdout}${result.stderr}`);
  return result.stdout;
}

/** A CA and a server certificate for 127.0.0.1 (and `localhost`), made with openssl in `dir`. */
export function makeCertificates(dir: string): { caFile: string; certFile: string; keyFile: string } {
  const [caFile, caKey, certFile, keyFile, csr, ext] = ['ca.pem', 'ca.key', 'server.pem', 'server.key', 'server.csr', 'san.ext'].map(
    (f) => `${dir}/${f}`,
  ) as [string, string, string, string, string, string];
  writeFileSync(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=deprovisiond test CA',
    '-keyout',
    caKey,
    '-out',
    caFile,
  ]);
  run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', keyFile, '-out', csr]);
  run('openssl', [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    caFile,
    '-CAkey',
    caKey,
    '-CAcreateserial',
    '-days',
    '2',
    '-out',
    certFile,
    '-extfile',
    ext,
  ]);
  return { caFile, certFile, keyFile };
}

/** One entry's attributes as the server returns them, or undefined when there is none. */
export async function readEntry(client: Client, dn: string, attributes: string[]): Promise<Record<string, unknown> | undefined> {
  const { searchEntries } = await client.search(dn, { scope: 'base', attributes }).catch(() => ({ searchEntries: [] }));
  return searchEntries[0];
}

/** Whether `dn` can sign in with `password`: what a disabled or re-passworded account must fail. */
export async function canBind(url: string, dn: string, password: string, tlsOptions?: ConnectionOptions): Promise<boolean> {
  const client = new Client({ url, ...(tlsOptions ? { tlsOptions } : {}) });
  try {
    await client.bind(dn, password);
    return true;
  } catch {
    return false;
  } finally {
    await client.unbind().catch(() => undefined);
  }
}
