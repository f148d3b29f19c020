import { sqliteBackend } from './backends.ts';
import { defineErasureSuite } from './erasure-suite.ts';

defineErasureSuite(sqliteBackend);
