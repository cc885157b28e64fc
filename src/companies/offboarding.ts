import { isUuid } from '../domain/ids';
import { createHash } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { RequestContext } from '../context/request-context';
import { AppError } from '../errors/app-error';
import { bindTenant } from '../tenancy/tenant-binding';

/** Columns whose values are secrets' hashes: exported as null. */
const REDACTED_COLUMNS = new Set(['password_hash', 'token_hash']);

export interface OffboardingFile {
  table: string;
  file: string;
  rows: number;
  sha256: string;
}

export interface OffboardingResult {
  companyId: string;
  slug: string;
  directory: string;
  manifestSha256: string;
  files: OffboardingFile[];
  deletedRows: number;
}

/**
 * Offboards a suspended company (super admin): exports every row it owns, one NDJSON file per
 * table plus the company row and its webhook events, into `<exportDir>/<slug>-<id>-<time>/` with a
 * manifest of row counts and SHA-256 checksums; then deletes every row of the company in every
 * tenant table, its webhook events and the company itself. Export and deletion run in one
 * repeatable-read transaction, so the export holds exactly the rows deleted; the manifest is
 * written only after the deletion committed, and a failure removes the directory. A platform
 * operation: the transaction is opened on the platform handle (platform_offboard_company is a
 * platform function) and bound to the company, so the export reads under its row level security.
 */
export async function offboardCompany(
  ctx: RequestContext,
  companyId: string,
): Promise<OffboardingResult> {
  if (ctx.actor.kind !== 'platform_admin') {
    throw new AppError('FORBIDDEN', 'Only a super admin may offboard a company');
  }
  if (!isUuid(companyId)) {
    throw new AppError('BAD_USER_INPUT', 'companyId must be a company id', { field: 'companyId' });
  }
  const adminId = ctx.actor.adminId;
  const { deps } = ctx;
  let directory: string | undefined;
  try {
    const result = await deps.db.platform.transaction(
      async (trx) => {
        await bindTenant(trx, companyId);
        const company = (await trx('companies').where({ id: companyId }).first()) as
          { id: string; slug: string; suspended_at: Date | null } | undefined;
        if (!company) throw new AppError('NOT_FOUND', 'Company not found', { field: 'companyId' });
        if (!company.suspended_at) {
          throw new AppError('CONFLICT', 'Suspend the company before offboarding it', {
            field: 'companyId',
            details: { reason: 'COMPANY_NOT_SUSPENDED' },
          });
        }
        const stamp = new Date().toISOString().replace(/[:.]/g, '-');
        directory = path.join(deps.config.exportDir, `${company.slug}-${company.id}-${stamp}`);
        await mkdir(directory, { recursive: true });

        const { rows: tables } = (await trx.raw(
          `select c.relname::text as name
             from pg_class c
             join pg_namespace n on n.oid = c.relnamespace
             join pg_attribute a on a.attrelid = c.oid and a.attname = 'company_id' and not a.attisdropped
            where n.nspname = 'public' and c.relkind in ('r', 'p')
            order by 1`,
        )) as { rows: { name: string }[] };
        const files: OffboardingFile[] = [];
        const dump = async (table: string, sql: string, bindings: string[]) => {
          const { rows } = (await trx.raw(sql, bindings)) as {
            rows: { row: Record<string, unknown> }[];
          };
          const text = rows
            .map(({ row }) => {
              for (const key of Object.keys(row)) if (REDACTED_COLUMNS.has(key)) row[key] = null;
              return JSON.stringify(row);
            })
            .join('\n');
          const body = text ? `${text}\n` : '';
          const file = `${table}.ndjson`;
          await writeFile(path.join(directory!, file), body, { mode: 0o600 });
          files.push({
            table,
            file,
            rows: rows.length,
            sha256: createHash('sha256').update(body).digest('hex'),
          });
        };
        await dump('companies', 'select to_jsonb(c) as row from companies c where c.id = ?', [
          companyId,
        ]);
        for (const { name } of tables) {
          await dump(
            name,
            `select to_jsonb(t) as row from ?? t where t.company_id = ? order by t.id`,
            [name, companyId],
          );
        }
        await dump(
          'webhook_events',
          'select to_jsonb(w) as row from webhook_events w where w.resolved_company_id = ? order by w.received_at, w.id',
          [companyId],
        );
        await trx.raw('select * from platform_offboard_company(?, ?, ?, ?)', [
          companyId,
          adminId,
          ctx.requestId,
          ctx.ip ?? null,
        ]);
        return { slug: company.slug, files };
      },
      { isolationLevel: 'repeatable read' },
    );
    const manifest = {
      companyId,
      slug: result.slug,
      exportedAt: new Date().toISOString(),
      exportedBy: adminId,
      format: 'ndjson',
      files: result.files,
    };
    const manifestText = `${JSON.stringify(manifest, null, 2)}\n`;
    await writeFile(path.join(directory!, 'manifest.json'), manifestText, { mode: 0o600 });
    deps.metrics.privacyOperations.inc({ operation: 'company_offboard' });
    deps.logger.warn(
      { requestId: ctx.requestId, companyId, directory, admin: adminId },
      'company offboarded',
    );
    return {
      companyId,
      slug: result.slug,
      directory: directory!,
      manifestSha256: createHash('sha256').update(manifestText).digest('hex'),
      files: result.files,
      deletedRows: result.files.reduce((n, f) => n + f.rows, 0),
    };
  } catch (err) {
    if (directory) await rm(directory, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
}
