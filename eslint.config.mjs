import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';
import importX from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';

/*
 * Layer boundaries (docs/architecture.md has the map). Each entry is a `no-restricted-imports`
 * fragment; a folder's rule is the union of the fragments that apply to it, because a later
 * flat-config block replaces a rule's options rather than adding to them.
 */
const DATA_ACCESS = {
  paths: [
    {
      name: 'knex',
      message: 'Resolvers reach the database through a service (src/services, src/scheduling).',
    },
    {
      name: 'objection',
      message: 'Resolvers reach the database through a service (src/services, src/scheduling).',
    },
  ],
  patterns: [],
};
/*
 * Models: a value import (a query, an insert) is data access and belongs in a service; a type
 * import (a GraphQL field's row type, a function's parameter) is not, so `import type` passes.
 * Enforced by `@typescript-eslint/no-restricted-imports`, which knows type-only imports.
 */
const RESOLVER_MODELS = {
  paths: [],
  patterns: [
    {
      group: ['**/models', '**/models/*'],
      message: 'Resolvers reach the database through a service (src/services, src/scheduling).',
      allowTypeImports: true,
    },
  ],
};
const GRAPHQL = {
  paths: ['graphql', 'type-graphql', 'graphql-shield'].map((name) => ({
    name,
    message: 'Domain code does not know GraphQL: translate in a resolver, keep the rule here.',
  })),
  patterns: [
    {
      group: [
        '@apollo/*',
        'graphql/*',
        '**/resolvers',
        '**/resolvers/*',
        '**/graphql',
        '**/graphql/*',
      ],
      message: 'Domain code does not know GraphQL: translate in a resolver, keep the rule here.',
    },
  ],
};
const MODELS = {
  paths: [],
  patterns: [
    {
      group: ['**/models', '**/models/*'],
      message: 'Webhook effects and voice functions reach data through a service, not a model.',
      allowTypeImports: true,
    },
  ],
};
const restrict = (...fragments) => [
  'error',
  {
    paths: fragments.flatMap((f) => f.paths),
    patterns: fragments.flatMap((f) => f.patterns),
  },
];

const DOMAIN = [
  'src/scheduling/**/*.ts',
  'src/services/**/*.ts',
  'src/domain/**/*.ts',
  'src/companies/**/*.ts',
  'src/privacy/**/*.ts',
];
const EDGES = ['src/webhooks/**/*.ts', 'src/voice/**/*.ts'];

/*
 * Files that still import model values (queries, inserts) while their logic moves behind a
 * service; type-only model imports need no entry. Shorten these lists, never add to them.
 */
const RESOLVERS_WITH_MODELS = ['src/resolvers/node.ts'];
const EDGES_WITH_MODELS = ['src/webhooks/credentials.ts', 'src/webhooks/retell-effects.ts'];

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'coverage/**',
      '.data/**',
      'test-results/**',
      // PostGraphile 4 peer of the benchmark: a plain-JS package of its own (graphql 15).
      'bench/peer/**',
      'eslint.config.mjs',
      'jest.config.js',
      'jest.faults.config.js',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': [
        'error',
        { checksVoidReturn: { arguments: false } },
      ],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-redundant-type-constituents': 'off',
      // Casting a raw query's result documents the row shape the SQL returns.
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
    },
  },
  {
    // Import cycles: a runtime cycle anywhere in the product or the benchmarks fails the check.
    // (Type-only cycles are caught by test/unit/import-graph.test.ts.)
    files: ['src/**/*.ts', 'bench/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      // Parse TypeScript dependencies too (by default only .js files are followed).
      'import-x/extensions': ['.ts'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })],
    },
    rules: { 'import-x/no-cycle': ['error', { ignoreExternal: true }] },
  },
  {
    files: ['src/resolvers/**/*.ts'],
    rules: {
      'no-restricted-imports': restrict(DATA_ACCESS),
      '@typescript-eslint/no-restricted-imports': restrict(RESOLVER_MODELS),
    },
  },
  { files: RESOLVERS_WITH_MODELS, rules: { '@typescript-eslint/no-restricted-imports': 'off' } },
  { files: DOMAIN, rules: { 'no-restricted-imports': restrict(GRAPHQL) } },
  {
    files: EDGES,
    rules: {
      'no-restricted-imports': restrict(GRAPHQL),
      '@typescript-eslint/no-restricted-imports': restrict(MODELS),
    },
  },
  { files: EDGES_WITH_MODELS, rules: { '@typescript-eslint/no-restricted-imports': 'off' } },
  {
    // Migrations are history: they hold what they need (or a frozen migrations/lib/vN.ts).
    files: ['migrations/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/src', '**/src/*', '**/src/**'],
              message:
                'A migration never imports live code: copy what it needs (docs/architecture.md).',
            },
          ],
        },
      ],
    },
  },
  prettier,
);
