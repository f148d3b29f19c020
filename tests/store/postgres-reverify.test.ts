/** The re-verification suite on PostgreSQL (run policy as in postgres.test.ts). */
import { describePostgres } from '../helpers/postgres.ts';
import { postgresBackend } from './backends.ts';
import { defineReverifySuite } from './reverify-suite.ts';

describePostgres('PostgreSQL re-verification suite', (url) => {
  defineReverifySuite(postgresBackend(url));
});
