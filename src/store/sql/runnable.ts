/** Query predicates shared by the queue, the read model and settlement. */
import { sql, type ExpressionBuilder } from 'kysely';
import { UNRESOLVED_TERMINATION_STATES } from '../../domain/types.ts';
import type { Database } from '../schema.ts';

type AliasedTasks = Database & { t: Database['tasks'] };

/** Termination states whose tasks may run. `failed` keeps running its other tasks. */
const RUNNABLE_TERMINATION_STATES = ['scheduled', 'running', 'failed'];

/**
 * A pending task may run once every task it depends on succeeded (or was skipped) and
 * its termination is neither held nor finished.
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
          .where('dt.state', 'not in', ['succeeded', 'skipped']),
      ),
    ),
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
 * `state IN (…)` over the unresolved states written as literals, not bound parameters:
 * SQLite uses the partial index `terminations_open_subject` (one unresolved termination
 * per subject) only when the query repeats the index's own condition. With parameters it
 * walked the state index over every unresolved termination instead, so each SCIM request
 * of a burst cost more than the one before.
 */
export const UNRESOLVED = sql<boolean>`state in (${sql.raw(UNRESOLVED_TERMINATION_STATES.map((state) => `'${state}'`).join(', '))})`;
