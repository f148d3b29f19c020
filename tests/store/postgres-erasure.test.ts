/** The erasure suite on PostgreSQL (run policy as in postgres.test.ts). */
import { describePostgres } from '../helpers/postgres.ts';
import { postgresBackend } from './backends.ts';
import { defineErasureSuite } from './erasure-suite.ts';

describePostgres('PostgreSQL erasure suite', (url) => {
  defineErasureSuite(postgresBackend(url));
});
