import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

/**
 * Migrations are history. Each one holds what it needs or imports a frozen helper under
 * migrations/lib/, so editing today's code (src/) can never change what an old migration does
 * on a new database. (test/tenancy/schema-invariants.test.ts checks that the static migration
 * list equals the files.)
 */
const dir = path.resolve(__dirname, '../../migrations');

function sources(): Array<[string, string]> {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => path.join(dir, f));
  const lib = readdirSync(path.join(dir, 'lib')).map((f) => path.join(dir, 'lib', f));
  return [...files, ...lib].map((f) => [path.relative(dir, f), readFileSync(f, 'utf8')]);
}

/** Every module specifier of a file: static imports, re-exports, require() and import(). */
function specifiers(code: string): string[] {
  const found: string[] = [];
  const patterns = [
    /(?:import|export)\s[^'";]*?from\s+'([^']+)'/g,
    /import\s+'([^']+)'/g,
    /(?:require|import)\(\s*'([^']+)'\s*\)/g,
  ];
  for (const re of patterns) for (const m of code.matchAll(re)) found.push(m[1]!);
  return found;
}

describe('frozen migrations', () => {
  it('no migration (nor a migration helper) imports from src/ or outside migrations/', () => {
    const offending: string[] = [];
    for (const [file, code] of sources()) {
      for (const spec of specifiers(code)) {
        if (!spec.startsWith('.')) continue; // packages (knex)
        const target = path.resolve(dir, path.dirname(file), spec);
        if (!target.startsWith(dir + path.sep)) offending.push(`${file} -> ${spec}`);
      }
    }
    expect(offending).toEqual([]);
  });

  it('the import scan sees a src/ import (the check itself works)', () => {
    expect(specifiers("import { createTenantTable } from '../src/db/schema-helpers';")).toEqual([
      '../src/db/schema-helpers',
    ]);
  });

  it('migrations/lib/v1.ts is unchanged: a new helper version goes into a new file', () => {
    const code = readFileSync(path.join(dir, 'lib', 'v1.ts'));
    expect(createHash('sha256').update(code).digest('hex')).toBe(
      '7d69b486b77aa12176b832ff4a5f833700a33d68ab7554e0662175c082a5071c',
    );
  });
});
