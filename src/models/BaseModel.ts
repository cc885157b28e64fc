import { Model, snakeCaseMappers, type ColumnNameMappers } from 'objection';

/** Models use camelCase properties over snake_case columns. */
export class BaseModel extends Model {
  static override get columnNameMappers(): ColumnNameMappers {
    return snakeCaseMappers();
  }

  // Rows are read from a trusted schema; objection's JSON-schema validation is not used.
  static override get useLimitInFirst(): boolean {
    return true;
  }
}
