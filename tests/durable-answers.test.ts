/**
 * Invariant 7 (issue 23, case 7): no answer is sent before what it reports is on disk,
 * reads included. On SQLite, group commit lets a read see a write whose WAL sync has not
 * finished; an answer decided by such a read must wait for the durable point.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { signedHeaders, startTestDaemon, uniqueSubject, type TestDaemon } from './helpers/admin-daemon.ts';

let t: TestDaemon;
/** Released after each test whatever happened: a gate left shut would stall every later write. */
let releaseHeld: (() => void) | undefined;

const SCIM_TOKEN = `scim-${randomBytes(16).toString('hex')}`;

beforeAll(async () => {
  t = await startTestDaemon({ auth: { scim: [SCIM_TOKEN] } });
});
afterAll(async () => {
  await t?.stop();
});
afterEach(() => {
  releaseHeld?.();
  vi.restoreAllMocks();
});

/** FileHandle's prototype, whose datasync the group-commit driver calls on the WAL. */
async function fileHandlePrototype(): Promise<{ datasync(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'durable-'));
  const path = join(dir, 'probe');
  writeFileSync(path, '');
  const handle = await open(path, 'r');
  await handle.close();
  rmSync(dir, { recursive: true, force: true });
  return Object.getPrototypeOf(handle) as { datasync(): Promise<void> };
}

/** Holds every WAL sync that starts while held, until released. */
async function holdWalSyncs() {
  const prototype = await fileHandlePrototype();
  const datasync = prototype.datasync;
  let held = false;
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let releasedAt = Infinity;
  releaseHeld = release;
  vi.spyOn(prototype, 'datasync').mockImplementation(async function (this: unknown) {
    if (held) await gate;
    return datasync.call(this);
  });
  return {
    hold: () => (held = true),
    release: () => {
      releasedAt = Date.now();
      release();
    },
    releasedAt: () => releasedAt,
  };
}

const settleOf = <T>(promise: Promise<T>) => {
  let at = Infinity;
  const tracked = promise.then((value) => {
    at = Date.now();
    return value;
  });
  return { tracked, at: () => at };
};

describe('durable answers', () => {
  it("answers a webhook redelivery only once the first delivery's writes are synced (case 7)", async () => {
    const syncs = await holdWalSyncs();
    const deliveries = t.daemon.store.webhookDeliveries;
    const settle = deliveries.settle.bind(deliveries);
    let settling!: () => void;
    const settleStarted = new Promise<void>((resolve) => (settling = resolve));
    // From the write that records the delivery's termination on, hold the WAL syncs.
    vi.spyOn(deliveries, 'settle').mockImplementation(async (id, terminationId) => {
      syncs.hold();
      const written = settle(id, terminationId);
      settling();
      return written;
    });
    const raw = JSON.stringify({ subject: uniqueSubject('durable') });
    const id = `msg_${randomBytes(6).toString('hex')}`;
    const send = () => t.api('POST', '/webhooks/termination', { token: null, raw, headers: signedHeaders(raw, { id }) });

    const first = settleOf(send());
    await settleStarted;
    // The settle's row is readable on the connection now, though not yet on disk.
    await vi.waitFor(async () => expect((await deliveries.get(id))?.terminationId).toBeTruthy());
    const again = settleOf(send());
    // Long enough for a read-only answer to arrive (it takes a few ms).
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(again.at(), 'the redelivery was answered before the first delivery was on disk').toBe(Infinity);
    syncs.release();
    const [a, b] = await Promise.all([first.tracked, again.tracked]);
    expect(a.status).toBe(201);
    expect(b.status).toBe(200);
    expect(b.body).toMatchObject({ terminationId: a.body.terminationId, duplicate: true });
    expect(again.at()).toBeGreaterThanOrEqual(syncs.releasedAt());
  });

  it('answers an admin read only once what it read is on disk', async () => {
    const created = await t.api('POST', '/admin/v1/terminations', {
      body: { subject: uniqueSubject('durable-read'), effectiveAt: '9999-12-31T00:00:00Z' },
    });
    expect(created.status).toBe(201);
    const syncs = await holdWalSyncs();
    syncs.hold();
    // A write whose sync is held; the read below can see it.
    const cancelling = t.daemon.store.cancelTermination(created.body.terminationId, 'admin:ops', 'test');
    await vi.waitFor(async () => expect((await t.daemon.store.getTermination(created.body.terminationId))?.state).toBe('cancelled'));
    const read = settleOf(t.api('GET', `/admin/v1/terminations/${created.body.terminationId}`));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(read.at(), 'the read was answered before the cancellation it reports was on disk').toBe(Infinity);
    syncs.release();
    expect((await read.tracked).body.termination.state).toBe('cancelled');
    await cancelling;
  });

  it('answers a SCIM GET only once the directory write it reports is on disk', async () => {
    const subject = uniqueSubject('durable-scim');
    const scimHeaders = { 'content-type': 'application/scim+json', accept: 'application/scim+json' };
    const created = await t.api('POST', '/scim/v2/Users', {
      token: SCIM_TOKEN,
      raw: JSON.stringify({
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
        userName: subject.userName,
        externalId: subject.externalId,
      }),
      headers: scimHeaders,
    });
    expect(created.status).toBe(201);
    const stored = (await t.daemon.store.directory.getUser(created.body.id))!;
    const syncs = await holdWalSyncs();
    syncs.hold();
    const renamed = `renamed-${subject.userName}`;
    const writing = t.daemon.store.directory.replaceUser(stored.id, { ...stored, userName: renamed });
    await vi.waitFor(async () => expect((await t.daemon.store.directory.getUser(stored.id))?.userName).toBe(renamed));
    const read = settleOf(t.api('GET', `/scim/v2/Users/${stored.id}`, { token: SCIM_TOKEN, headers: scimHeaders }));
    const list = settleOf(
      t.api('GET', `/scim/v2/Users?filter=${encodeURIComponent(`userName eq "${renamed}"`)}`, { token: SCIM_TOKEN, headers: scimHeaders }),
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect([read.at(), list.at()], 'a SCIM read was answered before the write it reports was on disk').toEqual([Infinity, Infinity]);
    syncs.release();
    expect((await read.tracked).body.userName).toBe(renamed);
    expect((await list.tracked).body.totalResults).toBe(1);
    await writing;
  });
});
