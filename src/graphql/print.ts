import { lexicographicSortSchema, printSchema } from 'graphql';
import { buildAppSchema } from './schema';

export const SCHEMA_FILE = 'schema/schema.graphql';

const HEADER = `# The public GraphQL schema, emitted from the code by \`npm run schema:emit\`. Do not edit.
# Front ends generate their types from this file; \`npm run schema:check\` reports breaking changes.
`;

/** The schema as SDL, sorted so the emitted file diffs cleanly. */
export function printAppSchema(): string {
  return `${HEADER}\n${printSchema(lexicographicSortSchema(buildAppSchema()))}\n`;
}
