import type { Migration, MigrationProvider } from 'kysely';
import { initial } from './0001_initial.ts';
import { directory } from './0002_directory.ts';
import { webhookDeliveries } from './0003_webhook_deliveries.ts';
import { auditAnchor } from './0004_audit_anchor.ts';
import { tasksLeaseByProvider } from './0005_tasks_lease_by_provider.ts';
import { tasksRunWhileHeld } from './0006_tasks_run_while_held.ts';
import { tasksLeaseToken } from './0007_tasks_lease_token.ts';
import { commitProbe } from './0009_commit_probe.ts';
import { auditLinker } from './0010_audit_linker.ts';
import { terminationRequests } from './0011_termination_requests.ts';
import { terminationsRevoked } from './0012_terminations_revoked.ts';
import { directoryGroups } from './0013_directory_groups.ts';
import { reverifications } from './0014_reverifications.ts';
import { legalHolds } from './0015_legal_holds.ts';
import { keyring } from './0016_keyring.ts';
import { directoryKeys } from './0017_directory_keys.ts';
import { erasure } from './0018_erasure.ts';

/** Versioned migrations, applied in name order. Never edit one that has shipped: add the next. */
export const migrations: Record<string, Migration> = {
  '0001_initial': initial,
  '0002_directory': directory,
  '0003_webhook_deliveries': webhookDeliveries,
  '0004_audit_anchor': auditAnchor,
  '0005_tasks_lease_by_provider': tasksLeaseByProvider,
  '0006_tasks_run_while_held': tasksRunWhileHeld,
  '0007_tasks_lease_token': tasksLeaseToken,
  '0009_commit_probe': commitProbe,
  '0010_audit_linker': auditLinker,
  '0011_termination_requests': terminationRequests,
  '0012_terminations_revoked': terminationsRevoked,
  '0013_directory_groups': directoryGroups,
  '0014_reverifications': reverifications,
  '0015_legal_holds': legalHolds,
  '0016_keyring': keyring,
  '0017_directory_keys': directoryKeys,
  '0018_erasure': erasure,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => migrations,
};
