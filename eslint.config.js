// ESLint: typescript-eslint's strict and stylistic type-checked sets, tuned to this codebase
// (every rule turned off or tuned below says why). Formatting is Prettier's alone:
// eslint-config-prettier, last, turns off every rule that would fight it.
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  globalIgnores(['dist/', 'node_modules/', 'test-results/', 'bench/results/']),
  js.configs.recommended,
  tseslint.configs.strictTypeChecked,
  tseslint.configs.stylisticTypeChecked,
  {
    languageOptions: {
      globals: globals.node,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // tsconfig's noUncheckedIndexedAccess types every `xs[i]` and `match[1]` as possibly
      // undefined; the code asserts `!` right after the length or match check that proves it.
      // The rule would trade each `!` for an `as` cast or a branch that cannot run.
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Its autofix turns `type X = {…}` into an interface, and an interface has no implicit
      // index signature: evidence types stop fitting JsonObject and Kysely table maps stop
      // fitting withTables<T> (tsc failed after one `eslint --fix`). Either form is fine here.
      '@typescript-eslint/consistent-type-definitions': 'off',
      // Numbers read plainly in a message; null, undefined and objects do not (they print
      // "undefined" or "[object Object]" to an operator), so those stay errors.
      // (Options left out default to allowed, so each is spelled out.)
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowAny: false, allowBoolean: false, allowNullish: false, allowRegExp: false, allowNever: false },
      ],
      // `async` on a method with no `await` is how this code implements Promise-returning
      // interfaces (Kysely's driver, the store's dialect hooks, adapters): a throw becomes a
      // rejection, as callers expect. The rule would swap that for Promise.resolve wrappers.
      '@typescript-eslint/require-await': 'off',
      // `return next(error)`, `() => resolve()` and `return notFound(res, …)` (an early exit from
      // an express handler) are idioms here: with arrow shorthands and void functions allowed,
      // all 71 findings left in the tree were that early exit, and none was a void value used.
      '@typescript-eslint/no-confusing-void-expression': 'off',
      // The code writes `string[]` for simple element types and `Array<{ … }>` for object
      // literal and union ones, which read better in the generic form.
      '@typescript-eslint/array-type': ['error', { default: 'array-simple' }],
      // Passing on a caught `unknown` unchanged (abortable's rejection, a worker's failure) is a
      // rethrow, as only-throw-error already allows; creating a non-Error reason is still an error.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      // `_name` marks a parameter a signature needs but the body does not use.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // PostgreSQL returns BIGINT columns (counts, epoch-millisecond times, audit positions)
    // as strings whatever the Kysely schema says; Number() there is the conversion.
    files: ['src/store/**/*.ts'],
    rules: { '@typescript-eslint/no-unnecessary-type-conversion': 'off' },
  },
  {
    // A migration is written against the database as it was, not against today's schema
    // type; Kysely's documented form for that is Kysely<any>.
    files: ['src/store/migrations/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['tests/**/*.ts', 'bench/**/*.ts'],
    rules: {
      // Tests and benchmarks read HTTP and JSON answers as `any` and let a wrong shape fail the
      // assertion that reads it; typing every answer would not make one test stricter.
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      // …and add up numbers read from such answers.
      '@typescript-eslint/restrict-plus-operands': [
        'error',
        { allowAny: true, allowBoolean: false, allowNullish: false, allowNumberAndString: false, allowRegExp: false },
      ],
      // Tests set their variables in hooks and callbacks (a daemon started in beforeEach, a time
      // a background promise records), which TypeScript's narrowing does not follow: the guards
      // this rule calls unnecessary there (`await t?.stop()` after a set-up that may have failed)
      // are what keeps one failure from hiding behind another.
      '@typescript-eslint/no-unnecessary-condition': 'off',
      // They rethrow, unchanged, what a background promise or a migration failed with.
      '@typescript-eslint/only-throw-error': 'off',
      // They save a prototype's method to wrap it and put it back (a spy by hand).
      '@typescript-eslint/unbound-method': 'off',
      // They match the CLI's output as printed: its colour escapes and its column spacing.
      'no-control-regex': 'off',
      'no-regex-spaces': 'off',
      // A test name or a failure message that prints "undefined" shows the bug it reports.
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowAny: true, allowBoolean: true, allowNullish: true, allowRegExp: false, allowNever: false },
      ],
    },
  },
  {
    // Plain JavaScript outside the TypeScript project (bin/, scripts/*.mjs, bench/lib/*.mjs,
    // the worker's .mjs entry, the console's browser script): no type information for it.
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['src/console/assets/*.js'],
    languageOptions: { globals: globals.browser, sourceType: 'script' },
  },
  prettier,
);
