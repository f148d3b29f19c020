/**
 * The Store over Kysely, shared by SQLite and PostgreSQL: one object that hands each call
 * to its concern (src/store/sql/). What differs between the two dialects (row locks,
 * wake-ups, the termination and audit-linker locks, error codes) comes in through `DialectHooks`.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { KEY_BYTES, subjectIndexKey } from '../privacy/crypto.ts';
import { LocalKeyWrapper, type KeyWrapper } from '../privacy/key-wrapper.ts';
import { ReceiptSigner } from '../privacy/receipt.ts';
import { SqlErasure } from './sql/erasure.ts';
import { PersonalData } from './sql/personal-data.ts';
import { Migrator, type Kysely } from 'kysely';
import { probeCommit } from './commit-probe.ts';
import { migrationProvider } from './migrations/index.ts';
import type { Database } from './schema.ts';
import type { SubjectDirectory } from './directory.ts';
import { sealLegacyDirectory } from './sql/directory-legacy.ts';
import { SqlSubjectDirectory } from './sql/directory-users.ts';
import type { GroupDirectory } from './directory-groups.ts';
import { SqlDirectoryGroups } from './sql/directory-groups.ts';
import { SqlWebhookDeliveryStore, type WebhookDeliveryStore } from './webhook-deliveries.ts';
import type { Store } from './store.ts';
import { SqlAuditLog } from './sql/audit-log.ts';
import { DEFAULT_LINKER_TIMING, type AuditLinkerTiming } from './sql/audit-linker.ts';
import { emitWake, type DialectHooks, type StoreContext } from './sql/context.ts';
import { SqlReadModel } from './sql/read-model.ts';
import { SqlLegalHolds } from './sql/legal-holds.ts';
import { SqlReverifications } from './sql/reverifications.ts';
import { SqlSettlement } from './sql/settlement.ts';
import { SqlTaskQueue } from './sql/task-queue.ts';
import { SqlTerminations } from './sql/terminations.ts';
import { sealLegacyRecords } from './sql/seal-legacy.ts';

export type { DialectHooks } from './sql/context.ts';
export { InvalidCursorError } from './sql/read-model.ts';

export interface SqlStoreOptions {
  /** The audit linker's delays (tests shorten or lengthen them). */
  linker?: Partial<AuditLinkerTiming>;
  /** A background link run failed (it is tried again on the next wake or timer). */
  onLinkerError?: (error: unknown) => void;
  /**
   * A connection of its own for lease renewals (PostgreSQL): a heartbeat must not queue for
   * a pooled connection behind the very work whose leases it keeps (recording results that
   * wait on a lock a frozen replica holds), or those leases lapse and the results are lost.
   */
  leaseDb?: Kysely<Database>;
  /**
   * The master key that wraps the keyring's data keys (32 bytes; config `privacy.masterKey`),
   * or a KMS wrapper with the key blind indexes are made with. A store opened without one
   * (tests, tooling on a scratch database) uses a key that lives as long as the process.
   */
  privacy?: { masterKey: Buffer; wrapper?: KeyWrapper };
}

/** The master key of stores opened without one: what they seal is unreadable to any other process. */
const PROCESS_MASTER_KEY = randomBytes(KEY_BYTES);

export class SqlStore implements Store {
  readonly dialect: 'sqlite' | 'postgres';
  readonly webhookDeliveries: WebhookDeliveryStore;
  readonly directory: SubjectDirectory;
  readonly groups: GroupDirectory;
  protected readonly ctx: StoreContext;
  private readonly leaseDb: Kysely<Database> | null;
  readonly terminations: SqlTerminations;
  readonly queue: SqlTaskQueue;
  readonly operations: SqlSettlement;
  readonly reads: SqlReadModel;
  readonly audit: SqlAuditLog;
  readonly reverifications: SqlReverifications;
  readonly holds: SqlLegalHolds;
  readonly erasure: SqlErasure;

  constructor(
    protected readonly db: Kysely<Database>,
    hooks: DialectHooks,
    injectedClock?: () => Date,
    options: SqlStoreOptions = {},
  ) {
    this.dialect = hooks.dialect;
    const events = new EventEmitter();
    events.setMaxListeners(100);
    const clock = injectedClock ?? (() => new Date());
    const leaseClock = (requested?: number) =>
      injectedClock ? (requested ?? injectedClock().getTime()) : (hooks.databaseClock ?? Date.now());
    this.leaseDb = options.leaseDb ?? null;
    const masterKey = options.privacy?.masterKey ?? PROCESS_MASTER_KEY;
    const personal = new PersonalData(
      hooks.keyringSchema,
      options.privacy?.wrapper ?? new LocalKeyWrapper(masterKey),
      subjectIndexKey(masterKey),
    );
    this.ctx = { db, hooks, clock, events, leaseClock, leaseDb: options.leaseDb ?? db, personal };
    this.webhookDeliveries = new SqlWebhookDeliveryStore(db);
    const directory = new SqlSubjectDirectory(db, personal, clock);
    this.directory = directory;
    this.audit = new SqlAuditLog(this.ctx, { ...DEFAULT_LINKER_TIMING, ...options.linker }, options.onLinkerError);
    this.groups = new SqlDirectoryGroups(db, personal, this.audit, clock);
    this.reads = new SqlReadModel(this.ctx);
    this.reverifications = new SqlReverifications(this.ctx, this.audit, () => this.operations);
    this.operations = new SqlSettlement(this.ctx, this.audit, this.reverifications);
    this.terminations = new SqlTerminations(this.ctx, this.audit);
    this.holds = new SqlLegalHolds(this.ctx, this.audit);
    this.queue = new SqlTaskQueue(this.ctx, this.audit, this.operations, this.reads);
    this.erasure = new SqlErasure(this.ctx, this.audit, new ReceiptSigner(masterKey), (trx, keys) => directory.eraseSubjectIn(trx, keys));
  }

  async migrate(): Promise<void> {
    const { error, results } = await new Migrator({ db: this.db, provider: migrationProvider }).migrateToLatest();
    const failed = results?.find((r) => r.status === 'Error');
    if (error || failed) {
      throw new Error(`store migration ${failed?.migrationName ?? ''} failed`, { cause: error });
    }
    await this.sealLegacyRecords();
  }

  /**
   * After the migrations, before the store serves: records and directory rows written
   * before personal data was kept sealed (issue 29) get their keys, which a migration cannot
   * do without them (seal-legacy.ts, directory-legacy.ts).
   */
  protected async sealLegacyRecords(): Promise<void> {
    const sealed = await sealLegacyRecords(this.ctx);
    const directory = await sealLegacyDirectory(this.db, this.ctx.personal, {
      lockRows: this.ctx.hooks.dialect === 'postgres',
      now: this.ctx.clock().getTime(),
    });
    // The clear rows' old pages must not stay behind in the WAL.
    if (sealed.terminations + sealed.holds + directory > 0) await this.ctx.hooks.purge();
  }

  probeCommit(): Promise<void> {
    return probeCommit(this.db, this.ctx.clock());
  }

  async close(): Promise<void> {
    // A link pass under way commits (or fails) before the pool goes.
    await this.audit.linker.stop();
    this.ctx.events.removeAllListeners();
    await this.leaseDb?.destroy();
    await this.db.destroy();
  }

  durable(): Promise<void> {
    return this.ctx.hooks.durable?.() ?? Promise.resolve();
  }

  onWake(listener: () => void): () => void {
    return this.queue.onWake(listener);
  }

  onTerminationRevoked(listener: (event: { terminationId: string; timeToRevokeMs: number }) => void): () => void {
    this.ctx.events.on('revoked', listener);
    return () => this.ctx.events.off('revoked', listener);
  }

  /** Wakes local schedulers (PostgreSQL: on a NOTIFY from another replica). */
  protected emitWake(): void {
    emitWake(this.ctx);
  }

  // Each member below belongs to one concern; see src/store/store.ts for what it promises.
  claimDueTasks: Store['claimDueTasks'] = (request) => this.queue.claimDueTasks(request);
  nextWakeAt: Store['nextWakeAt'] = (providers) => this.queue.nextWakeAt(providers);
  renewLeases: Store['renewLeases'] = (worker, leases, leaseMs) => this.queue.renewLeases(worker, leases, leaseMs);
  finishAttempt: Store['finishAttempt'] = (worker, lease, outcome, attempt) => this.queue.finishAttempt(worker, lease, outcome, attempt);
  releaseTasks: Store['releaseTasks'] = (worker, leases) => this.queue.releaseTasks(worker, leases);
  recordAccount: Store['recordAccount'] = (lease, account) => this.queue.recordAccount(lease, account);

  createTermination: Store['createTermination'] = (termination, tasks, options) =>
    this.terminations.createTermination(termination, tasks, options);
  cancelTermination: Store['cancelTermination'] = (id, actor, reason, authority) =>
    this.terminations.cancelTermination(id, actor, reason, authority);
  approveTermination: Store['approveTermination'] = (id, actor) => this.terminations.approveTermination(id, actor);
  findOpenTermination: Store['findOpenTermination'] = (key) => this.terminations.findOpenTermination(key);

  completeManualTask: Store['completeManualTask'] = (taskId, actor, outcome, reason) =>
    this.operations.completeManualTask(taskId, actor, outcome, reason);
  replayFailedTasks: Store['replayFailedTasks'] = (terminationId, taskId, actor) =>
    this.operations.replayFailedTasks(terminationId, taskId, actor);
  waiveTask: Store['waiveTask'] = (terminationId, taskId, actor, reason) => this.operations.waiveTask(terminationId, taskId, actor, reason);

  getTermination: Store['getTermination'] = (id) => this.reads.getTermination(id);
  getTerminations: Store['getTerminations'] = (ids) => this.reads.getTerminations(ids);
  listTerminations: Store['listTerminations'] = (filter) => this.reads.listTerminations(filter);
  listTasks: Store['listTasks'] = (terminationId) => this.reads.listTasks(terminationId);
  getTask: Store['getTask'] = (id) => this.reads.getTask(id);
  listAttempts: Store['listAttempts'] = (terminationId) => this.reads.listAttempts(terminationId);
  stats: Store['stats'] = (now) => this.reads.stats(now);
  revokeTimes: Store['revokeTimes'] = (since) => this.reads.revokeTimes(since);

  appendAudit: Store['appendAudit'] = (entry) => this.audit.appendAudit(entry);
  listAudit: Store['listAudit'] = (afterPosition, limit) => this.audit.listAudit(afterPosition, limit);
  countUnlinkedAudit: Store['countUnlinkedAudit'] = () => this.audit.countUnlinkedAudit();
  linkAudit: Store['linkAudit'] = () => this.audit.linkAudit();
  startAuditLinker: Store['startAuditLinker'] = () => this.audit.startAuditLinker();
  listAuditOf: Store['listAuditOf'] = (terminationId) => this.audit.listAuditOf(terminationId);
  pruneAudit: Store['pruneAudit'] = (before, actor) => this.audit.pruneAudit(before, actor);
  auditAnchor: Store['auditAnchor'] = () => this.audit.auditAnchor();

  setReverifySchedule: Store['setReverifySchedule'] = (offsetsFor) => this.reverifications.setReverifySchedule(offsetsFor);
  claimDueReverifications: Store['claimDueReverifications'] = (request) => this.reverifications.claimDueReverifications(request);
  finishReverification: Store['finishReverification'] = (worker, claim, result) =>
    this.reverifications.finishReverification(worker, claim, result);
  nextReverificationAt: Store['nextReverificationAt'] = (providers) => this.reverifications.nextReverificationAt(providers);
  requestReverification: Store['requestReverification'] = (terminationId, actor) =>
    this.reverifications.requestReverification(terminationId, actor);
  listReverifications: Store['listReverifications'] = (terminationId) => this.reverifications.listReverifications(terminationId);
  requestReverificationsSince: Store['requestReverificationsSince'] = (since, actor, max) =>
    this.reverifications.requestReverificationsSince(since, actor, max);
  driftSweep: Store['driftSweep'] = (since) => this.reverifications.driftSweep(since);

  placeHold: Store['placeHold'] = (target, actor, reason) => this.holds.placeHold(target, actor, reason);
  releaseHold: Store['releaseHold'] = (id, actor, reason) => this.holds.releaseHold(id, actor, reason);
  listHolds: Store['listHolds'] = (filter) => this.holds.listHolds(filter);
  holdsCovering: Store['holdsCovering'] = (terminationId) => this.holds.holdsCovering(terminationId);

  eraseTermination: Store['eraseTermination'] = (id, actor, reason) => this.thenFlushed(this.erasure.eraseTermination(id, actor, reason));
  eraseSubject: Store['eraseSubject'] = (subject, actor, reason) => this.thenFlushed(this.erasure.eraseSubject(subject, actor, reason));
  getErasure: Store['getErasure'] = (id) => this.erasure.getErasure(id);
  erasureKey: Store['erasureKey'] = () => this.erasure.erasureKey();
  dueForRetention: Store['dueForRetention'] = (periods, now, limit) => this.erasure.dueForRetention(periods, now, limit);
  eraseForRetention: Store['eraseForRetention'] = (id, actor) => this.thenFlushed(this.erasure.eraseForRetention(id, actor));
  retentionHeldCount: Store['retentionHeldCount'] = () => this.erasure.retentionHeldCount();
  requestErasure: Store['requestErasure'] = (request, actor, keep) => this.erasure.requestErasure(request, actor, keep);
  getErasureRequest: Store['getErasureRequest'] = (id) => this.erasure.getErasureRequest(id);
  runDueErasureRequests: Store['runDueErasureRequests'] = (now, actor, keep, limit) =>
    this.thenFlushed(this.erasure.runDueErasureRequests(now, actor, keep, limit));

  /**
   * After an erasure: a destroyed key's bytes stay on disk until the database rewrites them
   * (SQLite: in the WALs until a checkpoint; PostgreSQL: in a dead row until a vacuum);
   * purging now makes the erasure final on disk (context.ts `purge`, docs/privacy.md).
   */
  private async thenFlushed<T>(erasure: Promise<T>): Promise<T> {
    const result = await erasure;
    if (this.ctx.personal.takeDestroyed() > 0) await this.ctx.hooks.purge();
    return result;
  }
}
