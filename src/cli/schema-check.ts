import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { buildSchema } from 'graphql';
import { CriticalityLevel, diff } from '@graphql-inspector/core';
import { buildAppSchema } from '../graphql/schema';
import { SCHEMA_FILE } from '../graphql/print';

/**
 * Compares the schema built from the code with the committed schema/schema.graphql and lists the
 * changes; exits 1 when a change would break existing clients.
 */
async function main(): Promise<void> {
  const committed = buildSchema(readFileSync(SCHEMA_FILE, 'utf8'));
  const changes = await diff(committed, buildAppSchema());
  if (changes.length === 0) {
    console.log(`no changes against ${SCHEMA_FILE}`);
    return;
  }
  let breaking = 0;
  for (const change of changes) {
    const level = change.criticality.level;
    if (level === CriticalityLevel.Breaking) breaking += 1;
    console.log(`${level.padEnd(13)} ${change.message}`);
  }
  console.log(`\n${changes.length} change(s), ${breaking} breaking`);
  if (breaking > 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(2);
});
