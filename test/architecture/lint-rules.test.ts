import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { ESLint } from 'eslint';

/**
 * The layer and cycle rules in eslint.config.mjs must bite: each case lints a small piece of
 * code as if it were a file in the named folder and expects the rule to report it. A rule that
 * silently stops matching (a renamed folder, a typo in a glob) fails here.
 */
const root = path.resolve(__dirname, '../..');
const eslint = new ESLint({ cwd: root });

/**
 * Some file of the folder that no allowlist names (code moves between files; the folder's rule
 * stays).
 */
function fileIn(folder: string): string {
  const config = readFileSync(path.join(root, 'eslint.config.mjs'), 'utf8');
  const name = readdirSync(path.join(root, folder))
    .filter((f) => f.endsWith('.ts') && !config.includes(`'${folder}/${f}'`))
    .sort()[0];
  if (!name) throw new Error(`no TypeScript file in ${folder}`);
  return `${folder}/${name}`;
}

/**
 * Whether a source file imports a model as a value: `import { A, type B } from '../models'` or
 * `import * as m from '../models/A'` does, `import type { A } from '../models'` and
 * `import { type A } from '../models'` do not.
 */
function importsModelValues(source: string): boolean {
  const imports = source.matchAll(
    /import\s+(type\s+)?([^;]*?)\s+from\s+'\.\.\/models(?:\/[^']*)?'/g,
  );
  return [...imports].some(([, typeOnly, clause]) => {
    if (typeOnly) return false;
    const named = /^\{([^}]*)\}$/.exec(clause!.trim());
    if (!named) return true; // a default or namespace import is a value
    return named[1]!
      .split(',')
      .map((s) => s.trim())
      .some((s) => s !== '' && !s.startsWith('type '));
  });
}

async function ruleIds(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(root, filePath) });
  return result!.messages.map((m) => m.ruleId ?? m.message);
}

describe('architecture lint rules', () => {
  it.each([
    [
      'a resolver importing a model',
      fileIn('src/resolvers'),
      "import { Customer } from '../models';\nexport const x = Customer;\n",
      '@typescript-eslint/no-restricted-imports',
    ],
    [
      'a resolver importing one model file',
      fileIn('src/resolvers'),
      "import { Customer } from '../models/Customer';\nexport const x = Customer;\n",
      '@typescript-eslint/no-restricted-imports',
    ],
    [
      'a resolver importing a model value next to a model type',
      fileIn('src/resolvers'),
      "import { type Customer, Appointment } from '../models';\nexport const x: Customer | typeof Appointment = Appointment;\n",
      '@typescript-eslint/no-restricted-imports',
    ],
    [
      'a resolver importing knex',
      fileIn('src/resolvers'),
      "import knex from 'knex';\nexport const x = knex;\n",
      'no-restricted-imports',
    ],
    [
      'a resolver importing objection',
      fileIn('src/resolvers'),
      "import { Model } from 'objection';\nexport const x = Model;\n",
      'no-restricted-imports',
    ],
    [
      'a scheduling service importing type-graphql',
      fileIn('src/scheduling'),
      "import { Field } from 'type-graphql';\nexport const x = Field;\n",
      'no-restricted-imports',
    ],
    [
      'a service importing graphql',
      fileIn('src/services'),
      "import { GraphQLError } from 'graphql';\nexport const x = GraphQLError;\n",
      'no-restricted-imports',
    ],
    [
      'a company service importing a resolver',
      fileIn('src/companies'),
      "import { PERMISSIONS } from '../resolvers/permissions';\nexport const x = PERMISSIONS;\n",
      'no-restricted-imports',
    ],
    [
      'privacy code importing the GraphQL layer',
      fileIn('src/privacy'),
      "import { fromGlobalId } from '../graphql/global-id';\nexport const x = fromGlobalId;\n",
      'no-restricted-imports',
    ],
    [
      'a webhook module importing Apollo',
      fileIn('src/webhooks'),
      "import { ApolloServer } from '@apollo/server';\nexport const x = ApolloServer;\n",
      'no-restricted-imports',
    ],
    [
      'a webhook module importing a model',
      fileIn('src/webhooks'),
      "import { Customer } from '../models';\nexport const x = Customer;\n",
      '@typescript-eslint/no-restricted-imports',
    ],
    [
      'a voice module importing a model',
      fileIn('src/voice'),
      "import { Appointment } from '../models/Appointment';\nexport const x = Appointment;\n",
      '@typescript-eslint/no-restricted-imports',
    ],
    [
      'a voice module importing graphql-shield',
      fileIn('src/voice'),
      "import { rule } from 'graphql-shield';\nexport const x = rule;\n",
      'no-restricted-imports',
    ],
  ])('reports %s', async (_name, filePath, code, rule) => {
    expect(await ruleIds(filePath, code)).toContain(rule);
  });

  it.each([
    ['a resolver', fileIn('src/resolvers')],
    ['a webhook module', fileIn('src/webhooks')],
    ['a voice module', fileIn('src/voice')],
  ])('lets %s import model types (a row type is not data access)', async (_name, filePath) => {
    for (const code of [
      "import type { Customer } from '../models';\nexport type X = Customer;\n",
      "import { type Customer } from '../models/Customer';\nexport type X = Customer;\n",
    ]) {
      expect(await ruleIds(filePath, code)).not.toContain(
        '@typescript-eslint/no-restricted-imports',
      );
    }
  });

  it('still reports a resolver importing knex in a file allowed model values', async () => {
    const ids = await ruleIds(
      'src/resolvers/node.ts',
      "import knex from 'knex';\nexport const x = knex;\n",
    );
    expect(ids).toContain('no-restricted-imports');
  });

  it('still lets a webhook module import knex types (the inbox is platform data)', async () => {
    const ids = await ruleIds(
      fileIn('src/webhooks'),
      "import type { Knex } from 'knex';\nexport type X = Knex;\n",
    );
    expect(ids).not.toContain('no-restricted-imports');
  });

  it('reports a new import cycle', async () => {
    // app.ts imports observability/http.ts, which imports observability/labels.ts: making labels
    // import the app closes a loop.
    const code = "import { createApp } from '../app';\nexport const x = createApp;\n";
    expect(await ruleIds('src/observability/labels.ts', code)).toContain('import-x/no-cycle');
  });

  it.each(['RESOLVERS_WITH_MODELS', 'EDGES_WITH_MODELS'])(
    'the allowlist %s names only files that still import a model value (a fixed file leaves the list)',
    (list) => {
      const config = readFileSync(path.join(root, 'eslint.config.mjs'), 'utf8');
      const block = new RegExp(`const ${list} = \\[([^\\]]*)\\]`).exec(config);
      expect(block).not.toBeNull();
      const files = [...block![1]!.matchAll(/'([^']+)'/g)].map((m) => m[1]!);
      const stale = files.filter((file) => {
        const full = path.join(root, file);
        return !existsSync(full) || !importsModelValues(readFileSync(full, 'utf8'));
      });
      expect(stale).toEqual([]);
    },
  );
});
