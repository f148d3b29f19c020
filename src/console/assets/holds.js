// Legal holds in the console (issue 29): the list of holds, the form that places one and the
// release of one, and what a termination's page shows of the holds covering it. The page's
// helpers (h, api, act, say, time, operator, reasonForm) come from app.js as `ui`, so this
// file holds the holds' views only. Writes go to the admin API's own routes, which refuse a
// viewer whatever the page shows. Every value is put in as text, never as markup.

/** What an operator may name a subject by, and how it becomes the API's `subject` (or a termination id). */
const TARGETS = [
  ['email', 'Email', (v) => ({ subject: { emails: [v] } })],
  ['userName', 'User name', (v) => ({ subject: { userName: v } })],
  ['externalId', 'External id (HRIS)', (v) => ({ subject: { externalId: v } })],
  ['terminationId', 'Termination id', (v) => ({ terminationId: v })],
];

/** Who or what a hold is on, as a reader names them: the subject's identifiers, or the termination (linked). */
function holdTarget(ui, hold) {
  if (hold.terminationId) return ['termination ', ui.h('a', { href: `#/t/${hold.terminationId}`, class: 'mono' }, hold.terminationId)];
  const s = hold.subject ?? {};
  const names = [s.userName, s.externalId, ...(Array.isArray(s.emails) ? s.emails : [])].filter((v) => typeof v === 'string' && v);
  return `subject ${names.join(' · ') || '-'}`;
}

const placed = (ui, hold) => `${ui.time(hold.placedAt)} by ${hold.placedBy}`;
const released = (ui, hold) =>
  hold.releasedAt ? `released ${ui.time(hold.releasedAt)} by ${hold.releasedBy}: ${hold.releaseReason}` : 'in force';

/** The holds as a table; with `releasable`, an operator's release form beside each hold in force. */
function holdsTable(ui, holds, { id, releasable }) {
  return ui.h(
    'table',
    { id, class: 'holds' },
    ui.h(
      'thead',
      {},
      ui.h(
        'tr',
        {},
        ['Hold', 'On', 'Reason', 'Placed', 'State', releasable ? 'Release' : null]
          .filter(Boolean)
          .map((c) => ui.h('th', { scope: 'col' }, c)),
      ),
    ),
    ui.h(
      'tbody',
      {},
      holds.map((hold) =>
        ui.h(
          'tr',
          { class: hold.releasedAt ? 'released' : 'in-force', 'data-hold': hold.id },
          ui.h('td', { class: 'mono nowrap' }, hold.id),
          ui.h('td', {}, holdTarget(ui, hold)),
          ui.h('td', {}, hold.reason),
          ui.h('td', { class: 'nowrap' }, placed(ui, hold)),
          ui.h('td', {}, hold.releasedAt ? released(ui, hold) : ui.h('span', { class: 'state held' }, 'in force')),
          releasable ? ui.h('td', {}, !hold.releasedAt && ui.operator() ? releaseForm(ui, hold) : null) : null,
        ),
      ),
    ),
  );
}

function releaseForm(ui, hold) {
  return ui.reasonForm({
    label: `Why legal hold ${hold.id} may be released`,
    placeholder: 'Reason (audited)',
    button: 'Release',
    question: (reason) =>
      `Release legal hold ${hold.id}, in your name, with the reason "${reason}"? The delete steps it keeps may then run at once.`,
    run: (reason) => ui.api('POST', `/holds/${encodeURIComponent(hold.id)}/release`, { reason }),
    done: () => `Legal hold ${hold.id} released.`,
  });
}

/** What placing a hold did: the terminations it covers, and the deletes it came too late for. */
function placedMessage(answer) {
  const late = [...answer.alreadyRunning.map((k) => `${k.stepId} (running)`), ...answer.alreadyDone.map((k) => `${k.stepId} (done)`)];
  return `Legal hold ${answer.hold.id} placed; it covers ${answer.terminations.length} termination(s) now.${
    late.length > 0 ? ` Already past stopping: ${late.join(', ')}.` : ''
  }`;
}

/** The operator's form: a subject by one identifier, or a termination id, and a reason. */
function placeForm(ui) {
  const kind = ui.h(
    'select',
    { id: 'hold-kind' },
    TARGETS.map(([value, label]) => ui.h('option', { value }, label)),
  );
  const value = ui.h('input', { id: 'hold-value', type: 'text', required: true, maxlength: 320, autocomplete: 'off' });
  const reason = ui.h('input', {
    id: 'hold-reason',
    type: 'text',
    required: true,
    maxlength: 1000,
    placeholder: 'Why (audited, shown beside held steps)',
  });
  return ui.h(
    'form',
    {
      id: 'place-hold',
      class: 'hold-form',
      onsubmit: (e) => {
        e.preventDefault();
        const target = value.value.trim();
        const why = reason.value.trim();
        if (!target || !why) return ui.say('A legal hold needs what it is on and a reason.', true);
        const [, label, body] = TARGETS.find(([k]) => k === kind.value) ?? TARGETS[0];
        ui.act(
          `Place a legal hold on ${label.toLowerCase()} "${target}", in your name, with the reason "${why}"? Delete steps covered by it will not run until it is released; access is still revoked.`,
          () => ui.api('POST', '/holds', { ...body(target), reason: why }),
          placedMessage,
        );
      },
    },
    ui.h('label', { for: 'hold-kind' }, 'On'),
    kind,
    ui.h('label', { for: 'hold-value' }, 'Value'),
    value,
    ui.h('label', { for: 'hold-reason' }, 'Reason'),
    reason,
    ui.h('button', { type: 'submit', class: 'primary' }, 'Place hold'),
  );
}

/** #/holds: the holds in force; #/holds?released=true: every hold, released ones too. */
export async function holdsView(ui) {
  const params = new URLSearchParams(location.hash.split('?')[1] ?? '');
  const all = params.get('released') === 'true';
  const { items } = await ui.api('GET', all ? '/holds' : '/holds?active=true');
  return [
    ui.h('h1', {}, 'Legal holds'),
    ui.h(
      'p',
      { class: 'hint' },
      'A hold keeps the delete steps of a subject (every termination of theirs, later ones too) or of one termination from running. Access revocation is never held.',
    ),
    ui.operator() ? [ui.h('h2', {}, 'Place a hold'), placeForm(ui)] : null,
    ui.h('h2', {}, all ? 'All holds' : 'Holds in force'),
    ui.h(
      'div',
      { class: 'toolbar' },
      ui.h(
        'a',
        { id: 'holds-scope', href: all ? '#/holds' : '#/holds?released=true' },
        all ? 'Show holds in force only' : 'Show released holds too',
      ),
    ),
    items.length === 0
      ? ui.h('p', { id: 'no-holds' }, all ? 'No legal hold has been placed.' : 'No legal hold in force.')
      : holdsTable(ui, items, { id: 'holds', releasable: true }),
  ];
}

/**
 * A termination's page: the holds covering it, and an operator's form that holds this one
 * termination. `detail` is the admin API's termination answer (legalHolds, heldByLegalHold).
 */
export function terminationHolds(ui, detail) {
  const t = detail.termination;
  const hold = ui.operator()
    ? ui.reasonForm({
        label: 'Why this termination is held',
        placeholder: 'Why hold it (audited)',
        button: 'Place a legal hold',
        question: (reason) =>
          `Place a legal hold on this termination, in your name, with the reason "${reason}"? Its delete steps will not run until it is released; access is still revoked.`,
        run: (reason) => ui.api('POST', '/holds', { terminationId: t.id, reason }),
        done: placedMessage,
      })
    : null;
  return [
    ui.h('h2', {}, 'Legal holds'),
    detail.legalHolds.length === 0
      ? ui.h('p', {}, 'No legal hold covers this termination or its subject.')
      : holdsTable(ui, detail.legalHolds, { id: 'termination-holds', releasable: true }),
    hold,
  ];
}

/**
 * What a held step says beside it: "held by legal hold <id>: <reason>" for each hold in force
 * that keeps it; null for a step no hold keeps.
 */
export function heldNote(detail, task) {
  const held = detail.heldByLegalHold.find((k) => k.taskId === task.id);
  if (!held) return null;
  const reasons = new Map(detail.legalHolds.map((hold) => [hold.id, hold.reason]));
  return held.holds.map((id) => `held by legal hold ${id}: ${reasons.get(id) ?? ''}`).join('; ');
}
