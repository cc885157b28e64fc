import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { printAppSchema, SCHEMA_FILE } from '../graphql/print';

writeFileSync(SCHEMA_FILE, printAppSchema());
console.log(`wrote ${SCHEMA_FILE}`);
