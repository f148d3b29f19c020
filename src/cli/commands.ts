/**
 * Every deprovisiond command: its usage, options and one example. `--help` on any command
 * prints this; the implementation is imported only when the command runs, so
 * `deprovisiond status` never loads the daemon, its config schema or its providers. The
 * daemon's commands load from the sources even in the compiled front (see sources.ts).
 */
import { importSource } from './sources.ts';
import { SUBJECT_OPTIONS, type CommandSpec } from './spec.ts';

const CONFIG = { config: { type: 'string', value: 'FILE', help: 'the YAML config file (required)' } } as const;

export const COMMANDS: CommandSpec[] = [
  {
    name: 'serve',
    summary: 'run the daemon (SIGTERM or SIGINT drains it gracefully)',
    usage: ['--config FILE'],
    options: CONFIG,
    examples: ['deprovisiond serve --config config/sandbox.yaml'],
    remote: false,
    run: async (input) =>
      (
        await (globalThis.DEPROVISIOND_COMPILED
          ? importSource<typeof import('./local/serve.ts')>('cli/local/serve.ts')
          : import('./local/serve.ts'))
      ).serve(input),
  },
  {
    name: 'demo',
    summary: 'one termination end to end on SQLite (temp dir) and the sandbox providers',
    usage: ['[--config FILE] [--customer]'],
    options: {
      config: { type: 'string', value: 'FILE', help: 'a sandbox config (default config/sandbox.yaml)' },
      customer: {
        type: 'boolean',
        help: 'offboard a client organization instead (the customer playbook): its people, tenant, billing, emails',
      },
    },
    examples: ['deprovisiond demo', 'deprovisiond demo --customer'],
    remote: false,
    run: async (input) =>
      (
        await (globalThis.DEPROVISIOND_COMPILED
          ? importSource<typeof import('./local/demo.ts')>('cli/local/demo.ts')
          : import('./local/demo.ts'))
      ).demo(input),
  },
  {
    name: 'config check',
    summary: 'run every check `serve` runs before it listens, then exit (0 valid, 1 invalid)',
    usage: ['--config FILE'],
    options: CONFIG,
    examples: ['deprovisiond config check --config my-config.yaml'],
    remote: false,
    run: async (input) =>
      (
        await (globalThis.DEPROVISIOND_COMPILED
          ? importSource<typeof import('./local/config-check.ts')>('cli/local/config-check.ts')
          : import('./local/config-check.ts'))
      ).configCheck(input),
  },
  {
    name: 'audit verify',
    summary: "walk the audit chain in the config's store (no daemon needed); exit 1 at the first broken link",
    usage: ['--config FILE'],
    options: CONFIG,
    examples: ['deprovisiond audit verify --config config/sandbox.yaml'],
    remote: false,
    run: async (input) =>
      (
        await (globalThis.DEPROVISIOND_COMPILED
          ? importSource<typeof import('./local/audit-verify.ts')>('cli/local/audit-verify.ts')
          : import('./local/audit-verify.ts'))
      ).auditVerify(input),
  },
  {
    name: 'terminate',
    summary: 'start a termination for a subject',
    usage: [
      'SUBJECT [--reason R] [--effective-at ISO] [--playbook P] [--idempotency-key K] [--wait [--timeout 15m]]',
      '--from-csv FILE [--apply]',
    ],
    options: {
      ...SUBJECT_OPTIONS,
      reason: { type: 'string', value: 'TEXT', help: 'why, kept in the audit log and the evidence' },
      'idempotency-key': { type: 'string', value: 'KEY', help: 'a retry with the same key and body returns the first answer' },
      wait: { type: 'boolean', help: 'follow the tasks until every critical one is verified (exit 0) or the termination fails (exit 1)' },
      timeout: { type: 'string', value: 'DURATION', help: 'with --wait: give up after this long, exit 1 (default 15m)' },
      'from-csv': {
        type: 'string',
        value: 'FILE',
        help: 'one termination per row; columns named like these flags (external-id, user-name, email, ...). Plans only, unless --apply',
      },
      apply: { type: 'boolean', help: 'with --from-csv: create the terminations (the brake still holds a burst)' },
    },
    examples: [
      'deprovisiond terminate --user-name ada@example.com --manager-email grace@example.com --reason "last day"',
      'deprovisiond terminate --from-csv leavers.csv            # then again with --apply',
      'deprovisiond terminate --organization acme --domain acme.example --contact it@acme.example --playbook customer',
    ],
    remote: true,
    run: async (input) => (await import('./admin/terminate.ts')).terminate(input),
  },
  {
    name: 'plan',
    summary: 'show the tasks a termination would create; writes nothing',
    usage: ['SUBJECT [--effective-at ISO] [--playbook P] [--wide]'],
    options: { ...SUBJECT_OPTIONS, wide: { type: 'boolean', help: 'list every step each task waits for' } },
    examples: ['deprovisiond plan --user-name ada@example.com --playbook employee'],
    remote: true,
    run: async (input) => (await import('./admin/terminate.ts')).plan(input),
  },
  {
    name: 'status',
    summary: 'a termination, its tasks and their errors (exit 1 when it failed)',
    usage: ['ID [--wide] [--watch [--timeout 15m]]'],
    options: {
      wide: { type: 'boolean', help: 'add task ids and the errors inline' },
      watch: {
        type: 'boolean',
        help: 'refresh until every critical task is verified (exit 0) or the termination ends without that (exit 1)',
      },
      timeout: { type: 'string', value: 'DURATION', help: 'with --watch: give up after this long, exit 1 (default 15m)' },
    },
    examples: ['deprovisiond status 0192f4d8-7c1e-7a51-9d0a-3c5e2b8f6a10'],
    remote: true,
    run: async (input) => (await import('./admin/status.ts')).status(input),
  },
  {
    name: 'list',
    summary: 'terminations, newest first',
    usage: ['[--state S] [--failed-tasks] [--subject X] [--since ISO] [--until ISO] [--limit N] [--cursor C]'],
    options: {
      state: { type: 'string', value: 'STATE', help: 'scheduled, held, running, completed, completed_with_waivers, failed or cancelled' },
      'failed-tasks': {
        type: 'boolean',
        help: 'only terminations with a failed task now, whatever their state (what the failed-task alert counts)',
      },
      subject: { type: 'string', value: 'X', help: 'an HRIS id, userName or email' },
      since: { type: 'string', value: 'ISO', help: 'requested at or after' },
      until: { type: 'string', value: 'ISO', help: 'requested before' },
      limit: { type: 'string', value: 'N', help: 'page size (default 50)' },
      cursor: { type: 'string', value: 'C', help: 'the next page, as printed after the table' },
    },
    examples: ['deprovisiond list --failed-tasks'],
    remote: true,
    run: async (input) => (await import('./admin/list.ts')).list(input),
  },
  {
    name: 'cancel',
    summary: 'cancel every task of a termination not yet run (a rehire before the effective date)',
    usage: ['ID [--reason R]'],
    options: { reason: { type: 'string', value: 'TEXT', help: 'kept in the audit log' } },
    examples: ['deprovisiond cancel 0192f4d8-7c1e-7a51-9d0a-3c5e2b8f6a10 --reason "rehired"'],
    remote: true,
    run: async (input) => (await import('./admin/actions.ts')).cancel(input),
  },
  {
    name: 'approve',
    summary: 'release a termination held by the blast-radius brake, or every held one',
    usage: ['ID', '--all-held'],
    options: { 'all-held': { type: 'boolean', help: 'approve every held termination' } },
    examples: ['deprovisiond approve --all-held'],
    remote: true,
    run: async (input) => (await import('./admin/actions.ts')).approve(input),
  },
  {
    name: 'replay',
    summary: "re-queue a termination's failed tasks, or one of them",
    usage: ['ID [--task STEP]'],
    options: { task: { type: 'string', value: 'STEP', help: 'only this task: its step name (as `status` prints it) or its task id' } },
    examples: ['deprovisiond replay 0192f4d8-7c1e-7a51-9d0a-3c5e2b8f6a10 --task google-suspend'],
    remote: true,
    run: async (input) => (await import('./admin/actions.ts')).replay(input),
  },
  {
    name: 'reverify',
    summary:
      "read back a completed termination's verified tasks now, or every one finished in a window: finds access that came back (drift)",
    usage: ['ID', '--since DURATION'],
    options: {
      since: {
        type: 'string',
        value: 'DURATION',
        help: 'every termination finished this long ago or since, e.g. 30d (refused above reverify.maxOnDemand terminations)',
      },
    },
    examples: ['deprovisiond reverify 0192f4d8-7c1e-7a51-9d0a-3c5e2b8f6a10', 'deprovisiond reverify --since 30d'],
    remote: true,
    run: async (input) => (await import('./admin/reverify.ts')).reverify(input),
  },
  {
    name: 'sweep',
    summary: 'subjects terminated in a window with access back somewhere (drift), or a read-back not yet made',
    usage: ['[--since DURATION] [--csv]'],
    options: {
      since: { type: 'string', value: 'DURATION', help: 'terminations requested this long ago or since (default 30d)' },
      csv: { type: 'boolean', help: 'print CSV (RFC 4180) instead of a table' },
    },
    examples: ['deprovisiond sweep --since 30d', 'deprovisiond sweep --since 7d --csv > drift.csv'],
    remote: true,
    run: async (input) => (await import('./admin/sweep.ts')).sweep(input),
  },
  {
    name: 'waive',
    summary: 'settle a failed task without running it again, with the reason (audited; the evidence says waived, not verified)',
    usage: ['ID STEP --reason R'],
    options: {
      reason: {
        type: 'string',
        value: 'TEXT',
        help: 'required: why the failed task no longer needs to run, kept in the audit log and the evidence',
      },
    },
    examples: [
      'deprovisiond waive 0192f4d8-7c1e-7a51-9d0a-3c5e2b8f6a10 okta-revoke-sessions --reason "sessions ended by hand, ticket SEC-42"',
    ],
    remote: true,
    run: async (input) => (await import('./admin/actions.ts')).waive(input),
  },
  {
    name: 'hold',
    summary: 'place a legal hold: deletes of the subject (or one termination) wait until it is released; revocations never do',
    usage: ['(--external-id ID | --user-name NAME | --email EMAIL ...) --reason R', '--termination ID --reason R'],
    options: {
      'external-id': SUBJECT_OPTIONS['external-id']!,
      'user-name': SUBJECT_OPTIONS['user-name']!,
      email: SUBJECT_OPTIONS.email!,
      termination: { type: 'string', value: 'ID', help: 'hold this one termination instead of the subject' },
      reason: { type: 'string', value: 'TEXT', help: 'required: the case or audit that requires the records, kept in the audit log' },
    },
    examples: ['deprovisiond hold --external-id E1024 --reason "litigation hold, case 2026-114"'],
    remote: true,
    run: async (input) => (await import('./admin/holds.ts')).hold(input),
  },
  {
    name: 'release',
    summary: 'release a legal hold (held deletes that are due run now)',
    usage: ['HOLD --reason R'],
    options: { reason: { type: 'string', value: 'TEXT', help: 'required: why the hold ends, kept in the audit log' } },
    examples: ['deprovisiond release 0192f4d8-7c1e-7a51-9d0a-3c5e2b8f6a10 --reason "case 2026-114 closed"'],
    remote: true,
    run: async (input) => (await import('./admin/holds.ts')).release(input),
  },
  {
    name: 'holds',
    summary: 'list legal holds in force (--all: released ones too)',
    usage: ['[--all]'],
    options: { all: { type: 'boolean', help: 'released holds too' } },
    examples: ['deprovisiond holds'],
    remote: true,
    run: async (input) => (await import('./admin/holds.ts')).holds(input),
  },
  {
    name: 'erase',
    summary: "erase a finished termination's personal data (or every termination of a subject) and get the signed receipt",
    usage: ['ID --reason R [--receipt FILE]', '(--external-id ID | --user-name NAME | --email EMAIL ...) --reason R [--receipt FILE]'],
    options: {
      'external-id': SUBJECT_OPTIONS['external-id']!,
      'user-name': SUBJECT_OPTIONS['user-name']!,
      email: SUBJECT_OPTIONS.email!,
      reason: { type: 'string', value: 'TEXT', help: 'required: why (e.g. the request reference), kept in the audit log and the receipt' },
      receipt: { type: 'string', value: 'FILE', help: 'write the signed receipt to FILE (not overwritten)' },
    },
    examples: ['deprovisiond erase --external-id E1024 --reason "GDPR Art. 17 request DSR-311" --receipt dsr-311.json'],
    remote: true,
    run: async (input) => (await import('./admin/erase.ts')).erase(input),
  },
  {
    name: 'erasure-key',
    summary: 'print the public key erasure receipts are signed with (PEM)',
    usage: [''],
    options: {},
    examples: ['deprovisiond erasure-key > erasure-key.pem'],
    remote: true,
    run: async (input) => (await import('./admin/erase.ts')).erasureKey(input),
  },
  {
    name: 'verify-receipt',
    summary: "check an erasure receipt's signature (exit 0 valid, 1 not)",
    usage: ['FILE [--key PEMFILE]'],
    options: {
      key: { type: 'string', value: 'PEMFILE', help: 'the public key (default: asked of the daemon, as `erasure-key` prints it)' },
    },
    examples: ['deprovisiond verify-receipt dsr-311.json --key erasure-key.pem'],
    remote: true,
    run: async (input) => (await import('./admin/erase.ts')).verifyReceiptFile(input),
  },
  {
    name: 'complete',
    summary: 'record that a person finished a manual step (or that it does not apply)',
    usage: ['ID STEP --outcome done|not_applicable --reason R'],
    options: {
      outcome: { type: 'string', value: 'OUTCOME', help: 'done, or not_applicable' },
      reason: { type: 'string', value: 'TEXT', help: 'required: what was done, kept in the audit log and the evidence' },
    },
    examples: ['deprovisiond complete 0192f4d8-7c1e-7a51-9d0a-3c5e2b8f6a10 collect-laptop --outcome done --reason "laptop returned"'],
    remote: true,
    run: async (input) => (await import('./admin/actions.ts')).complete(input),
  },
  {
    name: 'evidence',
    summary: "a termination's evidence document: JSON, or a printable HTML page",
    usage: ['ID [--html]'],
    options: { html: { type: 'boolean', help: 'the printable page instead of JSON' } },
    examples: ['deprovisiond evidence 0192f4d8-7c1e-7a51-9d0a-3c5e2b8f6a10 --html > evidence.html'],
    remote: true,
    run: async (input) => (await import('./admin/evidence.ts')).evidence(input),
  },
  {
    name: 'completion',
    summary: 'print a shell completion script for bash or zsh',
    usage: ['bash|zsh'],
    options: {},
    examples: [
      'deprovisiond completion bash > /etc/bash_completion.d/deprovisiond',
      'source <(deprovisiond completion zsh)   # in ~/.zshrc',
    ],
    remote: false,
    run: async (input) => (await import('./completion.ts')).completion(input),
  },
];
