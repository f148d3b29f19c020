/**
 * The evidence document of one termination, for auditors: what was asked, by whom, what
 * each task did attempt by attempt, the read-back that verified it, who completed manual
 * steps, the time to revoke, the legal holds that kept its destructive steps, and where its
 * entries sit in the audit chain. Built only from stored records, which hold no secrets.
 */
import { version } from '../runtime/version.ts';
import { isActive, type LegalHold } from '../domain/legal-hold.ts';
import type { JsonObject, Task, TaskAttempt, Termination } from '../domain/types.ts';
import type { Reverification } from '../domain/reverify.ts';
import type { AuditEntry } from '../store/store.ts';
import { acknowledgementOf, describeReverifications, reverificationsOf, type TaskReverifications } from './reverify-evidence.ts';
import { PROOF_KINDS, acknowledgedProof, firstRanAt, proofOf, runsOf, type Proof, type ProofKind } from './proof.ts';

export interface EvidenceDocument {
  schema: 'deprovisiond.evidence/v1';
  generatedAt: string;
  /** The daemon that wrote the document. */
  generatedBy: { name: 'deprovisiond'; version: string };
  /** How many tasks each kind of proof covers (src/audit/proof.ts): what an auditor reads first. */
  summary: Record<ProofKind, number> & { total: number };
  termination: {
    id: string;
    state: string;
    source: string;
    sourceEventId: string | null;
    requestedBy: string;
    reason: string | null;
    playbook: string;
    subject: JsonObject;
    requestedAt: string;
    effectiveAt: string;
    revokedAt: string | null;
    finishedAt: string | null;
    /** From effective time (or receipt, if later) to the last critical task verified. */
    timeToRevokeMs: number | null;
  };
  /** In the order they ran (first attempt); tasks that never ran follow in playbook order. */
  tasks: Array<{
    /** 1-based position in that order. */
    order: number;
    id: string;
    step: string;
    provider: string;
    action: string;
    critical: boolean;
    state: string;
    notBefore: string;
    finishedAt: string | null;
    /** What the provider showed when read back, or the manual step's attestation; `proof` says which. */
    verifiedBy: JsonObject | null;
    /** What that evidence is worth, in words an auditor can take as they are. */
    proof: Proof;
    lastError: { kind: string; message: string } | null;
    /** Run 1 is the first; each operator replay starts the next, and restarts `attempt` at 1. */
    runs: Array<{ run: number; startedBy: string; at: string | null }>;
    /** Read-backs after completion (re-verification): last one, its result, drift found. */
    reverified: TaskReverifications;
    /**
     * For a `requested` proof (a device wipe not yet carried out when the task verified): the
     * first re-verification that read it back done, and what it read; null until one has.
     */
    acknowledged: { at: string; readBack: JsonObject } | null;
    attempts: Array<{
      run: number;
      attempt: number;
      label: string;
      worker: string;
      startedAt: string;
      finishedAt: string;
      outcome: string;
      error: string | null;
    }>;
  }>;
  /**
   * Every legal hold on this termination or its subject, released ones included, oldest first:
   * who placed it, when and why, and who released it, when and why.
   */
  legalHolds: Array<{
    id: string;
    /** On the subject (every termination of theirs) or on this one termination. */
    on: 'subject' | 'termination';
    /** The subject as the operator named it; null for a termination hold. */
    subject: JsonObject | null;
    terminationId: string | null;
    reason: string;
    placedBy: string;
    placedAt: string;
    inForce: boolean;
    releasedBy: string | null;
    releasedAt: string | null;
    releaseReason: string | null;
  }>;
  /** People who acted on this termination (cancel, approve, replay, manual steps), from the audit log. */
  actions: Array<{ at: string; actor: string; action: string; taskId: string | null; data: JsonObject }>;
  /**
   * Where this termination's entries sit in the audit chain, in chain order: each linked
   * entry's position and hash; an entry the linker has not linked yet has neither and says so.
   */
  auditChain: {
    entries: Array<{ seq: number; position: number | null; action: string; hash: string | null; linked: boolean }>;
    firstPosition: number | null;
    lastPosition: number | null;
    /** Entries not linked yet (they are linked moments after they commit; build the document again to see their hashes). */
    unlinked: number;
  };
}

export function buildEvidence(
  termination: Termination,
  tasks: Task[],
  attempts: TaskAttempt[],
  audit: AuditEntry[],
  now = new Date(),
  reverifications: readonly Reverification[] = [],
  holds: readonly LegalHold[] = [],
): EvidenceDocument {
  const iso = (d: Date | null) => (d ? d.toISOString() : null);
  const start = Math.max(termination.effectiveAt.getTime(), termination.requestedAt.getTime());
  const summary = Object.fromEntries(PROOF_KINDS.map((k) => [k, 0])) as EvidenceDocument['summary'];
  for (const task of tasks) summary[proofOf(task, audit, holds).kind] += 1;
  summary.total = tasks.length;
  return {
    schema: 'deprovisiond.evidence/v1',
    generatedAt: now.toISOString(),
    generatedBy: { name: 'deprovisiond', version: version() },
    summary,
    termination: {
      id: termination.id,
      state: termination.state,
      source: termination.source,
      sourceEventId: termination.sourceEventId,
      requestedBy: termination.createdBy,
      reason: termination.reason,
      playbook: termination.playbook,
      subject: JSON.parse(JSON.stringify(termination.subject)) as JsonObject,
      requestedAt: termination.requestedAt.toISOString(),
      effectiveAt: termination.effectiveAt.toISOString(),
      revokedAt: iso(termination.revokedAt),
      finishedAt: iso(termination.finishedAt),
      timeToRevokeMs: termination.revokedAt ? termination.revokedAt.getTime() - start : null,
    },
    tasks: inRunOrder(tasks, attempts).map((task, index) => {
      const { runs, attempts: ran } = runsOf(task, attempts, audit);
      const reverified = reverificationsOf(task.id, reverifications);
      const proof = proofOf(task, audit, holds);
      const acknowledged = proof.kind === 'requested' ? acknowledgementOf(reverified) : null;
      return {
        order: index + 1,
        id: task.id,
        step: task.stepId,
        provider: task.provider,
        action: task.action,
        critical: task.critical,
        state: task.state,
        notBefore: task.notBefore.toISOString(),
        finishedAt: iso(task.finishedAt),
        verifiedBy:
          task.state === 'succeeded'
            ? ((task.evidence?.verify as JsonObject | undefined) ?? task.evidence)
            : task.state === 'skipped'
              ? task.evidence
              : null,
        proof: acknowledged ? acknowledgedProof(proof, iso(task.finishedAt), acknowledged) : proof,
        lastError: task.lastError,
        runs,
        reverified,
        acknowledged,
        attempts: ran.map(({ attempt: a, run, label }) => ({
          run,
          attempt: a.attempt,
          label,
          worker: a.worker,
          startedAt: a.startedAt.toISOString(),
          finishedAt: a.finishedAt.toISOString(),
          outcome: a.outcome,
          error: a.errorKind ? `${a.errorKind}: ${a.errorMessage ?? ''}` : null,
        })),
      };
    }),
    legalHolds: holds.map((h) => ({
      id: h.id,
      on: h.terminationId === null ? 'subject' : 'termination',
      subject: h.subject === null ? null : (JSON.parse(JSON.stringify(h.subject)) as JsonObject),
      terminationId: h.terminationId,
      reason: h.reason,
      placedBy: h.placedBy,
      placedAt: h.placedAt.toISOString(),
      inForce: isActive(h),
      releasedBy: h.releasedBy,
      releasedAt: iso(h.releasedAt),
      releaseReason: h.releaseReason,
    })),
    actions: audit
      .filter((e) => !e.actor.startsWith('worker:') && e.actor !== 'engine')
      .map((e) => ({ at: e.at.toISOString(), actor: e.actor, action: e.action, taskId: e.taskId, data: e.data })),
    auditChain: chainPlace(audit),
  };
}

/** Tasks as they ran; a stable sort keeps the playbook order among ties and tasks that never ran. */
function inRunOrder(tasks: Task[], attempts: TaskAttempt[]): Task[] {
  const ranAt = new Map(tasks.map((t) => [t.id, firstRanAt(t, attempts) ?? Number.POSITIVE_INFINITY]));
  // Two tasks that never ran compare as Infinity - Infinity = NaN: treated as equal.
  return [...tasks].sort((a, b) => ranAt.get(a.id)! - ranAt.get(b.id)! || 0);
}

function chainPlace(audit: AuditEntry[]): EvidenceDocument['auditChain'] {
  const linked = audit.filter((e) => e.position !== null);
  return {
    entries: audit.map((e) => ({ seq: e.seq, position: e.position, action: e.action, hash: e.hash, linked: e.position !== null })),
    firstPosition: linked[0]?.position ?? null,
    lastPosition: linked.at(-1)?.position ?? null,
    unlinked: audit.length - linked.length,
  };
}

/** One line for the HTML page: the linked span and its last hash, and what still waits for the linker. */
function describeChainPlace(chain: EvidenceDocument['auditChain']): string {
  if (chain.entries.length === 0) return 'no entries';
  const lastLinked = chain.entries.filter((e) => e.linked).at(-1);
  // A linked entry has a position and a hash, so the span has both ends.
  const span = lastLinked
    ? `positions ${chain.firstPosition!}–${chain.lastPosition!}, last hash ${lastLinked.hash!}`
    : 'no entry linked yet';
  return chain.unlinked > 0 ? `${span}; ${chain.unlinked} newer entr${chain.unlinked === 1 ? 'y' : 'ies'} not linked yet` : span;
}

const escapeHtml = (value: string | number | null | undefined) =>
  String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** The summary's rows, in the order an auditor weighs them. */
const SUMMARY_LINES: Array<[ProofKind, string]> = [
  ['verified_by_read_back', 'verified by read-back'],
  ['attested', 'attested by a person'],
  ['acknowledged_by_receiver', 'acknowledged by the receiver (no read API)'],
  ['not_verifiable', 'not verifiable (the provider offers no read)'],
  ['requested', 'requested, acknowledgement read back later (device wipes)'],
  ['waived', 'waived by an operator (not verified)'],
  ['failed', 'failed'],
  ['skipped', 'skipped'],
  ['cancelled', 'cancelled'],
  ['held_by_legal_hold', 'held by a legal hold (not run)'],
  ['not_finished', 'not finished'],
];

/** The subject as named in a hold: its identifiers, as the termination's row shows them. */
const subjectWords = (subject: JsonObject) =>
  [subject.userName, subject.externalId, ...(Array.isArray(subject.emails) ? subject.emails : [])]
    .filter((v): v is string => typeof v === 'string' && v !== '')
    .join(' · ');

function renderHolds(holds: EvidenceDocument['legalHolds']): string {
  if (holds.length === 0) return '<p>No legal hold on this termination or its subject.</p>';
  const cells = (h: EvidenceDocument['legalHolds'][number]) => [
    h.id,
    h.on === 'subject' ? `subject ${h.subject ? subjectWords(h.subject) : ''}` : `termination ${h.terminationId ?? ''}`,
    `${h.placedAt} by ${h.placedBy}: ${h.reason}`,
    h.inForce ? 'in force' : `released ${h.releasedAt ?? ''} by ${h.releasedBy ?? 'unknown'}: ${h.releaseReason ?? ''}`,
  ];
  return `<table class="holds"><tr><th>hold</th><th>on</th><th>placed</th><th>released</th></tr>
${holds
  .map(
    (h) =>
      `<tr>${cells(h)
        .map((c) => `<td>${escapeHtml(c)}</td>`)
        .join('')}</tr>`,
  )
  .join('\n')}
</table>`;
}

/** A self-contained, printable page of the same document (no scripts, no external assets). */
export function renderEvidenceHtml(doc: EvidenceDocument): string {
  const t = doc.termination;
  const row = (cells: Array<string | number | null | undefined>) => `<tr>${cells.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`;
  const json = (value: unknown) => `<pre>${escapeHtml(JSON.stringify(value, null, 2))}</pre>`;
  const tasks = doc.tasks
    .map(
      (task) => `
    <section>
      <h3>${task.order}. ${escapeHtml(task.step)}: ${escapeHtml(task.provider)} · ${escapeHtml(task.action)} <span class="state ${escapeHtml(task.state)}">${escapeHtml(task.state)}</span></h3>
      <p class="proof ${escapeHtml(task.proof.kind)}">${escapeHtml(task.proof.kind === 'waived' ? `Not verified: waived by an operator (${task.proof.by ?? 'unknown'}: ${task.proof.reason ?? ''})` : task.proof.label)}</p>
      ${
        task.attempts.length === 0
          ? '<p>No provider attempt.</p>'
          : `<table><tr><th>attempt</th><th>worker</th><th>started</th><th>finished</th><th>outcome</th><th>error</th></tr>
      ${task.attempts.map((a) => row([a.label, a.worker, a.startedAt, a.finishedAt, a.outcome, a.error ?? ''])).join('\n      ')}
      </table>`
      }
      ${task.runs.length > 1 ? `<p>Runs: ${escapeHtml(task.runs.map((r) => `run ${r.run} started by ${r.startedBy}${r.at ? ` at ${r.at}` : ''}`).join('; '))}.</p>` : ''}
      ${task.reverified.lastAt || task.reverified.pending > 0 ? `<p class="reverified">${escapeHtml(describeReverifications(task.reverified))}</p>` : ''}
      ${task.verifiedBy ? `<details open><summary>Recorded evidence</summary>${json(task.verifiedBy)}</details>` : ''}
    </section>`,
    )
    .join('\n');
  const summary = SUMMARY_LINES.map(([kind, words]) => `<tr><th>${escapeHtml(words)}</th><td>${doc.summary[kind]}</td></tr>`).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Evidence: termination ${escapeHtml(t.id)}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:72em}table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left}pre{background:#f6f6f6;padding:.5em;overflow:auto}.state{font-size:.8em;padding:.1em .4em;border-radius:.3em;background:#eee}.succeeded{background:#d4f4d4}.failed{background:#f8d0d0}.waived{background:#f8ecc8}.proof{font-weight:600}.proof.failed{color:#b42318}.proof.waived,.proof.not_verifiable,.proof.requested,.proof.held_by_legal_hold{color:#7a4d00}</style>
</head><body>
<h1>Termination evidence</h1>
<p>Written by deprovisiond ${escapeHtml(doc.generatedBy.version)} at ${escapeHtml(doc.generatedAt)}.</p>
<h2>Summary: ${doc.summary.total} task(s)</h2>
<table class="summary">
${summary}
</table>
<h2>Termination</h2>
<table>
${[
  ['termination', t.id],
  ['state', t.state],
  ['subject', subjectWords(t.subject)],
  ['source', `${t.source}${t.sourceEventId ? ` (${t.sourceEventId})` : ''}, requested by ${t.requestedBy}`],
  ['reason', t.reason ?? ''],
  ['playbook', t.playbook],
  ['requested at', t.requestedAt],
  ['effective at', t.effectiveAt],
  ['access revoked at', t.revokedAt ?? 'not yet'],
  ['time to revoke', t.timeToRevokeMs === null ? 'not yet' : `${t.timeToRevokeMs} ms`],
  ['audit chain', describeChainPlace(doc.auditChain)],
]
  .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`)
  .join('\n')}
</table>
<h2>Legal holds</h2>
${renderHolds(doc.legalHolds)}
<h2>Tasks</h2>
${tasks}
<h2>People and operators</h2>
<table><tr><th>at</th><th>actor</th><th>action</th><th>task</th></tr>
${doc.actions.map((a) => row([a.at, a.actor, a.action, a.taskId ?? ''])).join('\n')}
</table>
<p>Generated ${escapeHtml(doc.generatedAt)} by deprovisiond ${escapeHtml(doc.generatedBy.version)}.</p>
</body></html>
`;
}
