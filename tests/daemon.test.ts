/**
 * The daemon as a whole on SQLite with the Okta sandbox: health is open, metrics need a
 * token and report the termination, logs redact secrets, and `serve` drains on SIGTERM.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.ts';
import { startDaemon, type Daemon } from '../src/daemon.ts';
import { createLogger } from '../src/telemetry/logger.ts';
import { oktaSandboxConfigYaml } from './helpers/okta-config.ts';
import { pollUntil } from './helpers/poll.ts';

const ADMIN_TOKEN = 'test-admin-token-0123456789';
const configText = (dir: string) => oktaSandboxConfigYaml(dir, { name: 'ops', token: ADMIN_TOKEN, role: 'operator' });

describe('daemon', () => {
  let dir: string;
  let daemon: Daemon;
  const logLines: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'deprovisiond-daemon-'));
    const destination = new Writable({
      write(chunk, _enc, done) {
        logLines.push(String(chunk));
        done();
      },
    });
    daemon = await startDaemon(parseConfig(configText(dir), 'test.yaml', {}), {
      configFile: 'test.yaml',
      logger: createLogger({ level: 'debug', destination }),
    });
  });
  afterAll(async () => {
    await daemon?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers /healthz and /readyz without credentials', async () => {
    expect((await fetch(`${daemon.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${daemon.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
  });

  it('runs provider requests on the attempt worker thread by default', () => {
    const started = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'deprovisiond started');
    expect(started).toMatchObject({ providerThread: true, providers: ['okta'] });
  });

  it('refuses /metrics without a valid token', async () => {
    expect((await fetch(`${daemon.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${daemon.url}/metrics`, { headers: { authorization: 'Bearer wrong-token-wrong-token' } })).status).toBe(401);
  });

  it('reports a verified termination in the metrics', async () => {
    const { termination } = await daemon.terminations.submit({
      source: 'admin',
      subject: { userName: 'grace@example.com', emails: [] },
      actor: 'test',
    });
    await pollUntil(
      async () => (await daemon.store.getTermination(termination.id))?.state === 'completed',
      () => 'termination did not complete',
      10_000,
    );
    const expected = [
      /deprovisiond_terminations_received_total\{source="admin",duplicate="false"\} 1/,
      /deprovisiond_tasks_finished_total\{provider="okta",action="revoke_sessions",outcome="succeeded"\} 1/,
      /deprovisiond_tasks_finished_total\{provider="okta",action="disable_account",outcome="succeeded"\} 1/,
      /deprovisiond_time_to_revoke_seconds_count 1/,
      /deprovisiond_task_attempt_duration_seconds_count\{provider="okta",action="disable_account"\} 1/,
      /deprovisiond_terminations\{state="completed"\} 1/,
      /deprovisiond_pending_tasks 0/,
      /deprovisiond_failed_unresolved_tasks 0/,
      /deprovisiond_oldest_pending_task_age_seconds 0/,
      /deprovisiond_queue_depth\{provider="okta"\} 0/,
    ];
    // A write is visible to reads as soon as it commits; the engine counts a finished task
    // once the WAL sync after that commit is done too, a moment later. So the metrics are
    // read until they show everything (bounded), and each line is then asserted on its own.
    let status = 0;
    let text = '';
    await pollUntil(
      async () => {
        const res = await fetch(`${daemon.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
        status = res.status;
        text = await res.text();
        return status !== 200 || expected.every((line) => line.test(text));
      },
      () => 'the metrics did not show the verified termination',
      5_000,
    ).catch(() => undefined);
    expect(status).toBe(200);
    for (const line of expected) expect(text).toMatch(line);
  });

  it('redacts secrets that reach a log call', () => {
    const logger = createLogger({
      destination: new Writable({
        write(chunk, _enc, done) {
          logLines.push(String(chunk));
          done();
        },
      }),
    });
    logger.info({ token: 'sekrit-1', config: { clientSecret: 'sekrit-2' }, req: { headers: { authorization: 'Bearer sekrit-3' } } }, 'x');
    const last = logLines.at(-1)!;
    expect(last).toContain('[redacted]');
    expect(logLines.join('')).not.toMatch(/sekrit-|test-admin-token-0123456789/);
  });
});

describe('deprovisiond serve', () => {
  it('starts from a config file and drains on SIGTERM, exiting 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'deprovisiond-serve-'));
    try {
      writeFileSync(join(dir, 'config.yaml'), configText(dir));
      const child = spawn(process.execPath, ['bin/deprovisiond.js', 'serve', '--config', join(dir, 'config.yaml')], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      const started = new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          const match = /"url":"(http:\/\/[^"]+)".*deprovisiond started/.exec(output);
          if (match) resolve(match[1]!);
        });
        child.on('exit', (code) => reject(new Error(`exited early with ${code}: ${output}`)));
      });
      const url = await started;
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(output).toMatch(/shutting down/);
      expect(output).toMatch(/"msg":"stopped"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails at start with the file, the path and what was expected', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'deprovisiond-badconf-'));
    try {
      writeFileSync(join(dir, 'bad.yaml'), configText(dir).replace('action: disable_account', 'action: disable'));
      const child = spawn(process.execPath, ['bin/deprovisiond.js', 'serve', '--config', join(dir, 'bad.yaml')], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      expect(code).toBe(1);
      expect(stderr).toContain(join(dir, 'bad.yaml'));
      expect(stderr).toMatch(/playbooks\.default\.steps\[1\]\.action \(line \d+\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
