/** `terminate` and `plan`: the same request, created or only planned (a dry run writes nothing). */
import { colorsFor, outputWidth, table, time } from '../format.ts';
import { UsageError } from '../io.ts';
import { CSV_COLUMNS, terminateFromCsv } from './bulk.ts';
import type { CommandInput, Values } from '../spec.ts';
import type { Created, Planned } from './answers.ts';
import { clientFor, noPositionals, printJson, str, subjectFrom } from './common.ts';
import { followTermination, taskChanges, timeoutMs, verdict } from './watch.ts';

export async function terminate({ values, positionals, io }: CommandInput): Promise<number> {
  noPositionals(positionals);
  const key = str(values, 'idempotency-key');
  const client = clientFor(values, io);
  const csv = str(values, 'from-csv');
  if (csv !== undefined) {
    if (CSV_COLUMNS.some((flag) => values[flag] !== undefined) || values.wait || key)
      throw new UsageError('--from-csv takes the subjects from the file: give no subject flags, --wait or --idempotency-key with it');
    return terminateFromCsv(client, csv, values.apply === true, io, values.json === true);
  }
  if (values.apply) throw new UsageError('--apply goes with --from-csv');
  const limit = values.wait ? timeoutMs(str(values, 'timeout')) : 0;
  const result = await client.request<Created>('POST', '/terminations', {
    body: requestBody(values),
    headers: key ? { 'idempotency-key': key } : undefined,
  });
  if (!values.wait) {
    if (values.json) return printJson(io, result);
    io.out.write(
      `termination ${result.terminationId} ${result.state}${result.duplicate ? ' (already known: nothing new was created)' : ''}\n`,
    );
    return 0;
  }
  if (!values.json) io.out.write(`termination ${result.terminationId} ${result.state}: waiting until every critical task is verified\n`);
  const { detail, timedOut } = await followTermination(
    client,
    result.terminationId,
    limit,
    values.json ? () => undefined : taskChanges(io),
  );
  const { code, line } = verdict(detail, timedOut);
  if (values.json) return printJson(io, detail, code);
  io.out.write(`${line}\n`);
  return code;
}

export async function plan({ values, positionals, io }: CommandInput): Promise<number> {
  noPositionals(positionals);
  const result = await clientFor(values, io).request<Planned>('POST', '/terminations', {
    body: requestBody(values),
    query: { dryRun: 'true' },
  });
  if (values.json) return printJson(io, result);
  const { plan } = result;
  const colors = colorsFor(io.out, io.env);
  // Which playbookRules rule chose the playbook, so an operator sees why a leaver gets it.
  const chosenBy = plan.rule ? ` (rule "${plan.rule}")` : '';
  io.out.write(`plan for ${plan.subjectKey}: playbook ${plan.playbook}${chosenBy}, effective ${time(plan.effectiveAt)}\n`);
  io.out.write(
    table(
      ['STEP', 'PROVIDER', 'ACTION', 'AFTER', 'NOT BEFORE', 'CRITICAL'],
      plan.tasks.map((t) => [
        t.stepId,
        t.provider,
        t.action,
        values.wide ? t.dependsOn.join(',') : after(t.dependsOn),
        time(t.notBefore),
        t.critical ? 'yes' : 'no',
      ]),
      {
        width: values.wide ? undefined : outputWidth(io.out),
        shrink: [3, 0],
        styleRow: (row, line) => (row[5] === 'yes' ? colors.bold(line) : line),
      },
    ),
  );
  if (result.existingTerminationId) io.out.write(`an open termination already exists for this subject: ${result.existingTerminationId}\n`);
  return 0;
}

/** The step waited for, or how many: a playbook's final steps wait for a dozen (`--wide` lists them). */
function after(dependsOn: string[]): string {
  return dependsOn.length <= 1 ? (dependsOn[0] ?? '') : `${dependsOn.length} steps`;
}

function requestBody(values: Values): Record<string, unknown> {
  return {
    subject: subjectFrom(values),
    ...(values.reason !== undefined ? { reason: values.reason } : {}),
    ...(values['effective-at'] !== undefined ? { effectiveAt: values['effective-at'] } : {}),
    ...(values.playbook !== undefined ? { playbook: values.playbook } : {}),
  };
}
