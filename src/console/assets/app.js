// The console page: reads and writes through the admin API under /console/api (session
// cookie, plus the CSRF token from /console/session on every write). Every value is put into
// the page as text, never as markup. The view refreshes every few seconds unless the
// operator is typing.

import { heldNote, holdsView, terminationHolds } from './holds.js';

const REFRESH_MS = 3000;
const UNRESOLVED = ['scheduled', 'held', 'running', 'failed'];
let session = null;

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) if (child !== null && child !== undefined) el.append(child instanceof Node ? child : String(child));
  return el;
}

const time = (iso) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-');
// A waived task is settled by a person's decision, never verified: the badge says so.
const stateBadge = (state) => h('span', { class: `state ${state}` }, state === 'waived' ? 'waived · not verified' : state);
const subjectLabel = (s) => s?.userName ?? s?.emails?.[0] ?? s?.externalId ?? '-';
const operator = () => session?.role === 'operator';

async function api(method, path, body) {
  const headers = { accept: 'application/json' };
  if (method !== 'GET') {
    headers['content-type'] = 'application/json';
    headers['x-csrf-token'] = session.csrf;
  }
  const res = await fetch(`/console/api${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  if (res.status === 401) {
    location.assign('/console/login');
    throw new Error('signed out');
  }
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new Error(`${data?.error ?? `HTTP ${res.status}`} (HTTP ${res.status})`);
  return data;
}

function say(text, bad = false) {
  const status = document.getElementById('status');
  status.replaceChildren(h('p', { class: bad ? 'msg bad' : 'msg' }, text));
}

/** Runs an operator action after a confirmation that says what will happen. */
async function act(question, run, done) {
  if (!window.confirm(question)) return;
  try {
    const result = await run();
    say(done(result));
  } catch (error) {
    say(error.message, true);
  }
  await render();
}

/** The page's helpers, for the views kept in their own files (holds.js). */
const ui = { h, api, act, say, time, operator, reasonForm };

const SOURCES = ['scim', 'webhook', 'admin'];

async function listView() {
  const params = new URLSearchParams(location.hash.split('?')[1] ?? '');
  const state = params.get('state') ?? '';
  const source = params.get('source') ?? '';
  const q = params.get('q') ?? '';
  const failedOnly = params.get('failedTasks') === 'true';
  const query = new URLSearchParams({ limit: '100' });
  for (const [key, value] of [
    ['state', state],
    ['source', source],
    ['q', q],
    ['failedTasks', failedOnly ? 'true' : ''],
  ])
    if (value) query.set(key, value);
  const page = await api('GET', `/terminations?${query}`);
  /** The same list with one filter changed; the others are kept. */
  const refine = (key, value) => {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    location.hash = next.size > 0 ? `#/terminations?${next}` : '#/terminations';
  };
  const filter = h(
    'select',
    { id: 'state-filter', onchange: (e) => refine('state', e.target.value) },
    ['', 'scheduled', 'held', 'running', 'completed', 'completed_with_waivers', 'failed', 'cancelled'].map((s) =>
      h('option', { value: s, selected: s === state }, s || 'all states'),
    ),
  );
  const sourceFilter = h(
    'select',
    { id: 'source-filter', onchange: (e) => refine('source', e.target.value) },
    ['', ...SOURCES].map((s) => h('option', { value: s, selected: s === source }, s || 'all sources')),
  );
  const searchBox = h('input', {
    id: 'search',
    type: 'search',
    value: q,
    maxlength: 200,
    placeholder: 'email, user name, HRIS id or termination id',
  });
  const search = h(
    'form',
    {
      role: 'search',
      class: 'search',
      onsubmit: (e) => {
        e.preventDefault();
        refine('q', searchBox.value.trim());
      },
    },
    h('label', { for: 'search' }, 'Search'),
    searchBox,
    h('button', { type: 'submit' }, 'Search'),
  );
  const approveAll = operator()
    ? h(
        'button',
        {
          type: 'button',
          id: 'approve-all',
          onclick: () =>
            act(
              'Approve every termination held by the blast-radius brake? They start running at once.',
              () => api('POST', '/terminations/approve-held', { all: true }),
              (r) => `Approved ${r.approved.length} held termination(s).`,
            ),
        },
        'Approve all held',
      )
    : null;
  return [
    h('h1', {}, failedOnly ? 'Terminations with a failed task' : 'Terminations'),
    h(
      'div',
      { class: 'toolbar' },
      search,
      h('label', { for: 'state-filter' }, 'State'),
      filter,
      h('label', { for: 'source-filter' }, 'Source'),
      sourceFilter,
      failedOnly || q || source ? h('a', { href: '#/terminations' }, 'Show all') : null,
      approveAll,
    ),
    h(
      'table',
      {},
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['Subject', 'State', 'Playbook', 'Source', 'Requested', 'Effective', 'Id'].map((c) => h('th', { scope: 'col' }, c)),
        ),
      ),
      h(
        'tbody',
        {},
        page.items.map((t) =>
          h(
            'tr',
            { class: t.state === 'failed' ? 'failed' : null },
            h('td', { class: 'nowrap' }, h('a', { href: `#/t/${t.id}` }, subjectLabel(t.subject))),
            h('td', {}, stateBadge(t.state)),
            h('td', {}, t.playbook),
            h('td', {}, t.source),
            h('td', { class: 'nowrap' }, time(t.requestedAt)),
            h('td', { class: 'nowrap' }, time(t.effectiveAt)),
            h('td', { class: 'mono' }, t.id),
          ),
        ),
      ),
    ),
    page.items.length === 0 ? h('p', {}, q ? `No termination matches "${q}".` : 'No terminations.') : null,
  ];
}

const duration = (ms) =>
  ms === null ? '-' : ms < 1000 ? `${ms} ms` : ms < 120_000 ? `${(ms / 1000).toFixed(1)} s` : `${(ms / 60_000).toFixed(1)} min`;

/** One figure of the overview: a number, what it counts, and where to look at the items. */
function figure(id, value, label, href, alarming) {
  const body = [h('span', { class: 'value' }, value), h('span', { class: 'label' }, label)];
  return h('li', { id, class: alarming ? 'figure alarm' : 'figure' }, href ? h('a', { href }, body) : body);
}

async function overviewView() {
  const o = await api('GET', '/overview');
  const ttr = o.timeToRevoke;
  return [
    h('h1', {}, 'Overview'),
    h(
      'ul',
      { class: 'figures', 'aria-label': 'What needs attention' },
      figure('open', o.openTerminations, 'open terminations', '#/terminations', false),
      figure('failed-tasks', o.failedTasks, 'failed tasks', '#/terminations?failedTasks=true', o.failedTasks > 0),
      figure('held', o.heldTerminations, 'held by the brake', '#/terminations?state=held', o.heldTerminations > 0),
      figure('overdue', o.manualOverdue, `overdue manual steps (${o.manualPending} waiting)`, null, o.manualOverdue > 0),
    ),
    h('h2', {}, 'Time to revoke, last 24 hours'),
    ttr.count === 0
      ? h('p', { id: 'ttr' }, 'No termination revoked in the last 24 hours.')
      : h(
          'p',
          { id: 'ttr' },
          `p50 ${duration(ttr.p50Ms)} · p99 ${duration(ttr.p99Ms)} · over ${ttr.count} termination(s) revoked since ${time(ttr.since)}`,
        ),
  ];
}

const AUDIT_PAGE = 50;

/** The audit log in chain order, a page at a time (read-only, for every role). */
async function auditView() {
  const params = new URLSearchParams(location.hash.split('?')[1] ?? '');
  const after = Number(params.get('after') ?? 0) || 0;
  const limit = Number(params.get('limit') ?? AUDIT_PAGE) || AUDIT_PAGE;
  const page = await api('GET', `/audit?after=${after}&limit=${limit}`);
  const pageLink = (to, text, id) => h('a', { href: `#/audit?after=${to}${limit === AUDIT_PAGE ? '' : `&limit=${limit}`}`, id }, text);
  return [
    h('h1', {}, 'Audit log'),
    h(
      'p',
      { class: 'hint' },
      'Every change with who made it, in the order of the hash chain. Entries written moments ago show without a position until they are linked.',
    ),
    h(
      'table',
      { class: 'audit' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['Position', 'At', 'Actor', 'Action', 'Termination', 'Details'].map((c) => h('th', { scope: 'col' }, c)),
        ),
      ),
      h(
        'tbody',
        {},
        page.items.map((e) =>
          h(
            'tr',
            {},
            h('td', { class: 'mono' }, e.linked ? e.position : 'not linked yet'),
            h('td', { class: 'nowrap' }, time(e.at)),
            h('td', {}, e.actor),
            h('td', { class: 'nowrap' }, e.action),
            // Ids are UUIDv7: their start is a timestamp shared by neighbours, their end tells rows apart.
            // The link and its title carry the whole id.
            h(
              'td',
              { class: 'mono nowrap' },
              e.terminationId ? h('a', { href: `#/t/${e.terminationId}`, title: e.terminationId }, `…${e.terminationId.slice(-12)}`) : '-',
            ),
            h('td', {}, Object.keys(e.data ?? {}).length > 0 ? h('code', {}, JSON.stringify(e.data)) : ''),
          ),
        ),
      ),
    ),
    page.items.length === 0 ? h('p', {}, 'No entries after this position.') : null,
    h(
      'nav',
      { class: 'toolbar pager', 'aria-label': 'Audit log pages' },
      after > 0 ? pageLink(0, '← First page', 'audit-first') : null,
      page.nextAfter !== null ? pageLink(page.nextAfter, 'Next page →', 'audit-next') : null,
    ),
  ];
}

async function detailView(id) {
  const path = `/terminations/${encodeURIComponent(id)}`;
  const [detail, reverifications] = await Promise.all([api('GET', path), api('GET', `${path}/reverifications`)]);
  const t = detail.termination;
  const base = `/terminations/${encodeURIComponent(t.id)}`;
  const failed = detail.tasks.filter((k) => k.state === 'failed');
  const actions = operator()
    ? [
        t.state === 'held'
          ? h(
              'button',
              {
                type: 'button',
                class: 'primary',
                onclick: () =>
                  act(
                    'Approve this held termination? Its tasks start running at once.',
                    () => api('POST', `${base}/approve`, {}),
                    () => 'Approved.',
                  ),
              },
              'Approve',
            )
          : null,
        failed.length > 0
          ? h(
              'button',
              {
                type: 'button',
                onclick: () =>
                  act(
                    `Replay ${failed.length} failed task(s) with a fresh retry budget?`,
                    () => api('POST', `${base}/replay`, {}),
                    (r) => `Replayed ${r.replayed.length} task(s).`,
                  ),
              },
              'Replay failed tasks',
            )
          : null,
        FINISHED.includes(t.state)
          ? h(
              'button',
              {
                type: 'button',
                id: 'reverify',
                onclick: () =>
                  act(
                    'Read back every verified task of this termination now? Access found back is drift: alerted and told.',
                    () => api('POST', `${base}/reverify`, {}),
                    (r) => `Queued ${r.queued.length} re-verification(s).`,
                  ),
              },
              'Re-verify now',
            )
          : null,
        UNRESOLVED.includes(t.state)
          ? h(
              'button',
              {
                type: 'button',
                class: 'danger',
                onclick: () =>
                  act(
                    'Cancel this termination? Every task not yet run is cancelled; access already removed stays removed.',
                    () => api('POST', `${base}/cancel`, { reason: 'cancelled in the console' }),
                    () => 'Cancelled.',
                  ),
              },
              'Cancel termination',
            )
          : null,
      ]
    : [];
  return [
    h('p', {}, h('a', { href: '#/terminations' }, '← All terminations')),
    h('h1', {}, `${subjectLabel(t.subject)} `, stateBadge(t.state)),
    h(
      'dl',
      { class: 'facts' },
      [
        ['Termination', h('span', { class: 'mono' }, t.id)],
        ['Playbook', t.playbook],
        ['Source', `${t.source}, by ${t.createdBy}`],
        ['Reason', t.reason ?? '-'],
        ['Requested', time(t.requestedAt)],
        ['Effective', time(t.effectiveAt)],
        ['Access revoked', time(t.revokedAt)],
        ['Finished', time(t.finishedAt)],
      ].flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
    ),
    h(
      'div',
      { class: 'toolbar' },
      actions,
      h('a', { href: `/console/api${base}/evidence?format=html`, target: '_blank', rel: 'noopener' }, 'Printable evidence'),
      h(
        'a',
        { id: 'evidence-json', href: `/console/api${base}/evidence?format=json&download=true`, download: `evidence-${t.id}.json` },
        'Evidence (JSON)',
      ),
    ),
    h('h2', {}, 'Tasks'),
    h(
      'table',
      {},
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['Step', 'Provider', 'Action', 'State', 'Attempts', 'Not before', 'Last error, held by or waiting for', ''].map((c) =>
            h('th', { scope: 'col' }, c),
          ),
        ),
      ),
      h(
        'tbody',
        {},
        detail.tasks.map((k) => taskRow(base, k, heldNote(detail, k))),
      ),
    ),
    terminationHolds(ui, detail),
    h('h2', {}, 'Evidence'),
    detail.evidence.length === 0
      ? h('p', {}, 'No task has finished yet.')
      : h(
          'table',
          {},
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ['Step', 'State', 'What was read back or attested'].map((c) => h('th', { scope: 'col' }, c)),
            ),
          ),
          h(
            'tbody',
            {},
            detail.evidence.map((e) =>
              h(
                'tr',
                {},
                h('td', {}, e.stepId),
                h('td', {}, stateBadge(e.state)),
                h('td', {}, h('pre', {}, JSON.stringify(e.evidence, null, 2))),
              ),
            ),
          ),
        ),
    h('h2', {}, 'Re-verifications'),
    reverificationTable(reverifications.items),
  ];
}

/** Terminations whose verified tasks are read back again (src/domain/reverify.ts). */
const FINISHED = ['completed', 'completed_with_waivers'];

/** Each read-back after completion: when it was due, why, and whether access was still gone (held) or back (drift). */
function reverificationTable(items) {
  if (items.length === 0) return h('p', {}, 'None: nothing re-verified or scheduled for this termination.');
  return h(
    'table',
    { id: 'reverifications' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['Provider', 'Action', 'Why', 'Due', 'State', 'Outcome', 'Read back'].map((c) => h('th', { scope: 'col' }, c)),
      ),
    ),
    h(
      'tbody',
      {},
      items.map((r) =>
        h(
          'tr',
          { class: r.outcome === 'drift' ? 'drift' : '' },
          h('td', {}, r.provider),
          h('td', {}, r.action),
          h('td', {}, r.reason === 'on_demand' ? 'on demand' : `scheduled (round ${r.round + 1})`),
          h('td', {}, time(r.dueAt)),
          h('td', {}, r.state),
          h('td', {}, r.outcome ?? '-'),
          h('td', {}, time(r.finishedAt)),
        ),
      ),
    ),
  );
}

/** `held` says which legal holds keep the step from running (holds.js), null when none does. */
function taskRow(base, k, held) {
  const path = `${base}/tasks/${encodeURIComponent(k.stepId)}`;
  let control = null;
  if (operator() && k.state === 'failed') {
    control = [
      h(
        'button',
        {
          type: 'button',
          onclick: () =>
            act(
              `Replay ${k.stepId} with a fresh retry budget?`,
              () => api('POST', `${path}/replay`, {}),
              () => `Replayed ${k.stepId}.`,
            ),
        },
        `Replay ${k.stepId}`,
      ),
      reasonForm({
        label: `Why ${k.stepId} may be waived`,
        placeholder: 'Why it may be waived (audited)',
        button: `Waive ${k.stepId}`,
        question: (reason) =>
          `Waive ${k.stepId}, in your name, with the reason "${reason}"? It is recorded as waived, not verified: nothing is read back from ${k.provider}.`,
        run: (reason) => api('POST', `${path}/waive`, { reason }),
        done: () => `${k.stepId} waived.`,
      }),
    ];
  } else if (operator() && k.action === 'manual' && k.state === 'pending') {
    const outcome = h(
      'select',
      { 'aria-label': `Outcome of ${k.stepId}` },
      h('option', { value: 'done' }, 'done'),
      h('option', { value: 'not_applicable' }, 'not applicable'),
    );
    control = reasonForm({
      label: `What was done for ${k.stepId}`,
      placeholder: 'What was done (audited)',
      before: outcome,
      button: `Complete ${k.stepId}`,
      question: () => `Record ${k.stepId} as ${outcome.value.replace('_', ' ')}, in your name?`,
      run: (reason) => api('POST', `${path}/complete`, { outcome: outcome.value, reason }),
      done: () => `${k.stepId} recorded.`,
    });
  }
  return h(
    'tr',
    { class: k.state === 'failed' ? 'failed' : null },
    h('td', { class: 'step' }, k.stepId),
    h('td', {}, k.provider),
    h('td', {}, k.action),
    h('td', {}, stateBadge(k.state)),
    h('td', {}, k.attempts),
    h('td', {}, time(k.notBefore)),
    held
      ? h('td', { class: 'held-by' }, held)
      : k.lastError
        ? h('td', { class: 'error' }, `${k.lastError.kind}: ${k.lastError.message}`)
        : h('td', { class: 'waiting' }, k.state === 'pending' ? waitingFor(k.checkpoint) : ''),
    h('td', {}, control),
  );
}

/**
 * What a waiting step waits for, as its adapter said it in the checkpoint (`waitingFor`: money
 * owed, a transfer under way); the same rule as src/domain/waiting.ts, kept short.
 */
function waitingFor(checkpoint) {
  const text = checkpoint && Object.hasOwn(checkpoint, 'waitingFor') ? checkpoint.waitingFor : null;
  if (typeof text !== 'string') return '';
  const clean = text.replace(/\s+/g, ' ').trim();
  return clean.length > 300 ? `${clean.slice(0, 300)}…` : clean;
}

/** A form whose write needs a reason, asked for before the confirmation quotes it back: both writes it serves are audited with it. */
function reasonForm({ label, placeholder, before = null, button, question, run, done }) {
  const reason = h('input', { type: 'text', 'aria-label': label, placeholder, required: true, maxlength: 1000 });
  return h(
    'form',
    {
      class: 'reason',
      onsubmit: (e) => {
        e.preventDefault();
        const text = reason.value.trim();
        if (!text) return say(`${label}: a reason is required.`, true);
        act(question(text), () => run(text), done);
      },
    },
    before,
    reason,
    h('button', { type: 'submit' }, button),
  );
}

/** Marks the header link of the section shown, for screen readers and the eye. */
function markNav() {
  const hash = location.hash;
  const section =
    hash.startsWith('#/terminations') || hash.startsWith('#/t/')
      ? '#/terminations'
      : hash.startsWith('#/audit')
        ? '#/audit'
        : hash.startsWith('#/holds')
          ? '#/holds'
          : '#/';
  for (const a of document.querySelectorAll('header nav a')) {
    if (a.getAttribute('href') === section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

async function render() {
  markNav();
  const view = document.getElementById('view');
  const match = /^#\/t\/([^?]+)/.exec(location.hash);
  try {
    const nodes = match
      ? await detailView(decodeURIComponent(match[1]))
      : location.hash.startsWith('#/terminations')
        ? await listView()
        : location.hash.startsWith('#/audit')
          ? await auditView()
          : location.hash.startsWith('#/holds')
            ? await holdsView(ui)
            : await overviewView();
    view.replaceChildren(...nodes.flat().filter(Boolean));
  } catch (error) {
    view.replaceChildren(h('p', { class: 'error' }, error.message));
  }
}

/**
 * Refreshing under someone typing a reason, or with a control focused, would lose their work.
 * A search already sent is in the URL, so its box does not hold the list still.
 */
function busy() {
  const active = document.activeElement;
  return (
    [...document.querySelectorAll('#view input:not([type=search])')].some((i) => i.value) ||
    (active && active !== document.body && document.getElementById('view').contains(active) && active.tagName !== 'A')
  );
}

async function start() {
  const res = await fetch('/console/session', { credentials: 'same-origin' });
  if (!res.ok) return location.assign('/console/login');
  session = await res.json();
  document.getElementById('who').textContent = `${session.actor} (${session.role})`;
  document.getElementById('logout').addEventListener('click', async () => {
    await fetch('/console/logout', { method: 'POST', headers: { 'x-csrf-token': session.csrf }, credentials: 'same-origin' });
    location.assign('/console/login');
  });
  window.addEventListener('hashchange', () => {
    document.getElementById('status').replaceChildren();
    render();
  });
  await render();
  setInterval(() => {
    if (!busy()) render();
  }, REFRESH_MS);
}

start();
