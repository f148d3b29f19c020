import { sqliteBackend } from './backends.ts';
import { defineStoreSuite } from './suite.ts';

defineStoreSuite(sqliteBackend);
