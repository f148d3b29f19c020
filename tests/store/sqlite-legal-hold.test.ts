import { sqliteBackend } from './backends.ts';
import { defineLegalHoldSuite } from './legal-hold-suite.ts';

defineLegalHoldSuite(sqliteBackend);
