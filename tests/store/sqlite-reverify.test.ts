import { sqliteBackend } from './backends.ts';
import { defineReverifySuite } from './reverify-suite.ts';

defineReverifySuite(sqliteBackend);
