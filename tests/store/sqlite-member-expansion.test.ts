import { sqliteBackend } from './backends.ts';
import { defineMemberExpansionSuite } from './member-expansion-suite.ts';

defineMemberExpansionSuite(sqliteBackend);
