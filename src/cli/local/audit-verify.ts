/** `audit verify --config FILE`: reads the store the config names (no daemon needed) and verifies every link. */
import { verifyAuditChain } from '../../audit/verify.ts';
import { loadConfig } from '../../config/load.ts';
import { openStore } from '../../store/open.ts';
import { createLogger } from '../../telemetry/logger.ts';
import type { CommandInput } from '../spec.ts';
import { configFile } from './config-file.ts';

export async function auditVerify(input: CommandInput): Promise<number> {
  const { values, io } = input;
  const config = loadConfig(configFile(input, 'audit verify'));
  const store = await openStore(config.store, createLogger({ level: 'warn' }), undefined, config.privacy);
  try {
    const report = await verifyAuditChain(
      (after, limit) => store.listAudit(after, limit),
      await store.auditAnchor(),
      1000,
      () => store.countUnlinkedAudit(),
    );
    // Entries not linked yet are not a failure: the running daemon's linker links them moments after they commit.
    const waiting = report.unlinked > 0 ? `; ${report.unlinked} newer entries not linked yet` : '';
    if (values.json) io.out.write(`${JSON.stringify(report)}\n`);
    else if (report.ok) io.out.write(`audit chain ok: ${report.entries} entries, head ${report.head}${waiting}\n`);
    else
      io.out.write(
        `audit chain BROKEN at entry ${report.brokenAt} (${report.reason}): ${report.detail}; ${report.entries} entries before it verify${waiting}\n`,
      );
    return report.ok ? 0 : 1;
  } finally {
    await store.close();
  }
}
