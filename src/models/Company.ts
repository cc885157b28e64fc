import { BaseModel } from './BaseModel';

/**
 * The tenant itself. Row level security shows the runtime role its own company only, so
 * `Company.query(trx).first()` inside a tenant transaction is the caller's company; other
 * companies are reached only through the platform functions (`db.platform`).
 */
export class Company extends BaseModel {
  static override tableName = 'companies';

  id!: string;
  name!: string;
  slug!: string;
  timezone!: string;
  defaultRegion!: string;
  currency!: string;
  locale!: string;
  archivedAt!: Date | null;
  createdAt!: Date;
}
