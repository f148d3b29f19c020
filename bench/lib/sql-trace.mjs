// Preload that times every better-sqlite3 statement by SQL text (profiling aid):
//   NODE_OPTIONS="--import ./bench/lib/sql-trace.mjs" SQL_TRACE_FILE=/tmp/sql.json ...
// Writes {sql: {count, ms, prepares}} sorted by total time when the process exits.
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';

const require = createRequire(new URL('../../package.json', import.meta.url));
const Database = require('better-sqlite3');
const stats = new Map();
const entry = (sql) => {
  let e = stats.get(sql);
  if (!e) stats.set(sql, (e = { count: 0, ms: 0, prepares: 0, prepareMs: 0 }));
  return e;
};
const prepare = Database.prototype.prepare;
Database.prototype.prepare = function (sql, ...rest) {
  const t0 = performance.now();
  const stmt = prepare.call(this, sql, ...rest);
  const e = entry(sql);
  e.prepares += 1;
  e.prepareMs += performance.now() - t0;
  for (const method of ['run', 'all', 'get', 'iterate']) {
    const original = stmt[method];
    stmt[method] = function (...args) {
      const t = performance.now();
      try {
        return original.apply(this, args);
      } finally {
        e.count += 1;
        e.ms += performance.now() - t;
      }
    };
  }
  return stmt;
};
// exec() runs BEGIN, SAVEPOINT, RELEASE and COMMIT (where the WAL is written and checkpoints run).
const exec = Database.prototype.exec;
Database.prototype.exec = function (sql) {
  const t = performance.now();
  try {
    return exec.call(this, sql);
  } finally {
    const e = entry(`exec: ${sql}`);
    e.count += 1;
    e.ms += performance.now() - t;
  }
};
process.on('exit', () => {
  const rows = [...stats]
    .map(([sql, s]) => ({ sql: sql.slice(0, 300), ...s, ms: Math.round(s.ms), prepareMs: Math.round(s.prepareMs) }))
    .sort((a, b) => b.ms + b.prepareMs - a.ms - a.prepareMs);
  writeFileSync(process.env.SQL_TRACE_FILE ?? 'sql-trace.json', JSON.stringify(rows, null, 1));
});
