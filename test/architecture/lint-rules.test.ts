import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ESLint } from 'eslint';

/**
 * The layer and cycle rules in eslint.config.mjs must bite: each case lints a small piece of
 * code as if it were a file in the named folder and expects the rule to report it. A rule that
 * silently stops matching (a renamed folder, a typo in a glob) fails here.
 */
const root = path.resolve(__dirname, '../..');
const eslint = new ESLint({ cwd: root });

async function ruleIds(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(root, filePath) });
  return result!.messages.map((m) => m.ruleId ?? m.message);
}

describe('architecture lint rules', () => {
  it.each([
    [
      'a resolver importing a model',
      'src/resolvers/dashboard.ts',
      "import { Customer } from '../models';\nexport const x = Customer;\n",
    ],
    [
      'a resolver importing one model file',
      'src/resolvers/dashboard.ts',
      "import { Customer } from '../models/Customer';\nexport const x = Customer;\n",
    ],
    [
      'a resolver importing knex',
      'src/resolvers/dashboard.ts',
      "import knex from 'knex';\nexport const x = knex;\n",
    ],
    [
      'a resolver importing objection',
      'src/resolvers/dashboard.ts',
      "import { Model } from 'objection';\nexport const x = Model;\n",
    ],
    [
      'a scheduling service importing type-graphql',
      'src/scheduling/time.ts',
      "import { Field } from 'type-graphql';\nexport const x = Field;\n",
    ],
    [
      'a service importing graphql',
      'src/services/phone.ts',
      "import { GraphQLError } from 'graphql';\nexport const x = GraphQLError;\n",
    ],
    [
      'a company service importing a resolver',
      'src/companies/offboarding.ts',
      "import { PERMISSIONS } from '../resolvers/permissions';\nexport const x = PERMISSIONS;\n",
    ],
    [
      'privacy code importing the GraphQL layer',
      'src/privacy/customer-data.ts',
      "import { fromGlobalId } from '../graphql/global-id';\nexport const x = fromGlobalId;\n",
    ],
    [
      'a webhook module importing Apollo',
      'src/webhooks/envelope.ts',
      "import { ApolloServer } from '@apollo/server';\nexport const x = ApolloServer;\n",
    ],
    [
      'a webhook module importing a model',
      'src/webhooks/envelope.ts',
      "import { Customer } from '../models';\nexport const x = Customer;\n",
    ],
    [
      'a voice module importing a model',
      'src/voice/speech.ts',
      "import { Appointment } from '../models/Appointment';\nexport const x = Appointment;\n",
    ],
    [
      'a voice module importing graphql-shield',
      'src/voice/speech.ts',
      "import { rule } from 'graphql-shield';\nexport const x = rule;\n",
    ],
  ])('reports %s', async (_name, filePath, code) => {
    expect(await ruleIds(filePath, code)).toContain('no-restricted-imports');
  });

  it('still lets a webhook module import knex types (the inbox is platform data)', async () => {
    const ids = await ruleIds(
      'src/webhooks/envelope.ts',
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
    'the allowlist %s names only files that still import a model (a fixed file leaves the list)',
    (list) => {
      const config = readFileSync(path.join(root, 'eslint.config.mjs'), 'utf8');
      const block = new RegExp(`const ${list} = \\[([^\\]]*)\\]`).exec(config);
      expect(block).not.toBeNull();
      const files = [...block![1]!.matchAll(/'([^']+)'/g)].map((m) => m[1]!);
      const stale = files.filter((file) => {
        const full = path.join(root, file);
        return !existsSync(full) || !/from '\.\.\/models[/']/.test(readFileSync(full, 'utf8'));
      });
      expect(stale).toEqual([]);
    },
  );
});
