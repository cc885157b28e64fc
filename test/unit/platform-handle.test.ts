import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * `db.platform` runs as the platform caller role, which can execute the cross-tenant SECURITY
 * DEFINER functions. Only the named platform code paths may use it; a new use anywhere else (a
 * tenant resolver, a domain service) fails here and has to be added on purpose, with a reason.
 */
const ALLOWED: Record<string, string> = {
  'src/auth/auth.service.ts':
    'sign-in: login candidates across companies, platform admin last login',
  'src/auth/authenticate.ts': "platform audit entry of a super admin's switch into a company",
  'src/graphql/limits/runtime.ts': "companies' GraphQL points limits (a platform setting)",
  'src/companies/lifecycle.service.ts':
    "company creation and suspension (platform functions, platform audit), a super admin's invitation (platform audit), the company status check at sign-in, refresh and invitation acceptance",
  'src/companies/offboarding.ts':
    'offboarding: export and platform_offboard_company (super admins only)',
  'src/observability/db.ts': 'cross-tenant aggregates for the metrics gauges',
  'src/privacy/customer-data.ts':
    "customer erasure: privacy_erase_customer_traces empties the company's stored webhook payloads, in one transaction bound to the company",
  'src/privacy/retention-job.ts': 'retention purge of transcripts and recordings across companies',
  'src/resolvers/company.ts': 'companies list and createPlatformAdmin (super admins only)',
  'src/resolvers/platform-audit.ts': 'platformAuditLog (super admins only)',
  'src/resolvers/rate-limit.ts':
    'setCompanyApiPointsLimit (super admins only), audited on the platform',
  'src/resolvers/user.ts': "a super admin's own profile",
  'src/voice/router.ts':
    "voice requests: the company credential and the call's company by agent or number, before any company is known",
  'src/webhooks/router.ts':
    'webhook ingest into the inbox; company endpoint credential lookup before any company is known',
  'src/webhooks/service.ts': 'webhook replays and super admin listings',
  'src/webhooks/worker.ts': 'claiming, routing and completing inbox events',
};

const withoutComments = (code: string): string =>
  code.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return sources(full);
    return full.endsWith('.ts') ? [full] : [];
  });
}

test('only the named platform code paths use db.platform', () => {
  const root = path.resolve(__dirname, '../..');
  const users = sources(path.join(root, 'src'))
    .filter((file) =>
      /\b(db|deps\.db)\.platform\b/.test(withoutComments(readFileSync(file, 'utf8'))),
    )
    .map((file) => path.relative(root, file).split(path.sep).join('/'))
    .filter((file) => file !== 'src/db/database.ts')
    .sort();
  expect(users).toEqual(Object.keys(ALLOWED).sort());
});
