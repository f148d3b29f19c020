/** Query predicates shared by the queue, the read model and settlement. */
import { sql, type ExpressionBuilder } from 'kysely';
import { DESTRUCTIVE_ACTIONS, SETTLED_TASK_STATES, UNRESOLVED_TERMINATION_STATES } from '../../domain/types.ts';
import type { Database } from '../schema.ts';
import { underLegalHold } from './legal-holds.ts';

type AliasedTasks = Database & { t: Database['tasks'] };

/** Termination states whose tasks may run. `failed` keeps running its other tasks. */
const RUNNABLE_TERMINATION_STATES = ['scheduled', 'running', 'failed'];

/**
 * A pending task may run once every task it depends on succeeded, was skipped or waived,
 * its termination is neither held nor finished, and, for a destructive action, every other
 * task of its termination at its provider has settled the same way (invariant 9) and no
 * active legal hold covers its termination or subject.
 */
export function isRunnable(eb: ExpressionBuilder<AliasedTasks, 't'>) {
  return eb.and([
    eb.not(
      eb.exists(
        eb
          .selectFrom('task_dependencies as d')
          .innerJoin('tasks as dt', 'dt.id', 'd.depends_on_task_id')
          .select(sql.lit(1).as('one'))
          .whereRef('d.task_id', '=', 't.id')
          .where('dt.state', 'not in', [...SETTLED_TASK_STATES]),
      ),
    ),
    providerSettledForDestructive(eb),
    eb.exists(
      eb
        .selectFrom('terminations as r')
        .select(sql.lit(1).as('one'))
        .whereRef('r.id', '=', 't.termination_id')
        .where((w) =>
          w.or([
            w('r.state', 'in', RUNNABLE_TERMINATION_STATES),
            // A held termination runs only the tasks created to run while held (the brake's message).
            w.and([w('r.state', '=', 'held'), w('t.runs_while_held', '=', 1)]),
          ]),
        ),
    ),
  ]);
}

/**
 * The destructive rule, whatever the playbook's `after` lists say (and a legal hold, which
 * keeps a destructive step from running until it is released): a replay that releases a
 * delete's dependencies cannot release the delete while a sibling at its provider is still
 * pending, running, retrying or failed. Other destructive steps there are not waited for
 * (two would wait for each other forever). Only destructive candidates reach the subquery,
 * which reads the termination's own tasks through the `(termination_id, step_id)` index.
 */
function providerSettledForDestructive(eb: ExpressionBuilder<AliasedTasks, 't'>) {
  return eb.or([
    eb('t.action', 'not in', [...DESTRUCTIVE_ACTIONS]),
    eb.and([
      eb.not(underLegalHold(eb)),
      eb.not(
        eb.exists(
          eb
            .selectFrom('tasks as sibling')
            .select(sql.lit(1).as('one'))
            .whereRef('sibling.termination_id', '=', 't.termination_id')
            .whereRef('sibling.provider', '=', 't.provider')
            .where('sibling.action', 'not in', [...DESTRUCTIVE_ACTIONS])
            .where('sibling.state', 'not in', [...SETTLED_TASK_STATES]),
        ),
      ),
    ]),
  ]);
}

/**
 * `state IN (…)` over the unresolved states written as literals, not bound parameters:
 * SQLite uses the partial index `terminations_open_subject` (one unresolved termination
 * per subject) only when the query repeats the index's own condition. With parameters it
 * walked the state index over every unresolved termination instead, so each SCIM request
 * of a burst cost more than the one before.
 */
export const UNRESOLVED = sql<boolean>`state in (${sql.raw(UNRESOLVED_TERMINATION_STATES.map((state) => `'${state}'`).join(', '))})`;
