/**
 * Records retention read from the playbooks (docs/privacy.md, "Retention"): how long each
 * playbook's terminations keep personal data (the retention job erases it after), and how
 * long an erasure request must wait because the record still needs it.
 */
import type { Config } from './schema.ts';

/** Personal-data period per playbook that has a retention policy, in ms after the termination finished. */
export function personalDataPeriods(config: Pick<Config, 'playbooks'>): Map<string, number> {
  const periods = new Map<string, number>();
  for (const [name, playbook] of Object.entries(config.playbooks)) {
    const retention = playbook.retention;
    if (!retention) continue;
    periods.set(name, retention.personalData === 'record' ? retention.record : retention.personalData);
  }
  return periods;
}

/**
 * How long a playbook's records must keep personal data, whatever a request says: the record
 * period when `personalData: record` (an employee's file, for labour and tax law), else 0 (a
 * request is carried out now). A playbook with no retention policy keeps nothing back.
 */
export function keepPersonalData(config: Pick<Config, 'playbooks'>): (playbook: string) => number {
  return (playbook) => {
    const retention = Object.hasOwn(config.playbooks, playbook) ? config.playbooks[playbook]!.retention : undefined;
    return retention?.personalData === 'record' ? retention.record : 0;
  };
}
