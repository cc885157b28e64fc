import { DateTimeResolver, JSONObjectResolver } from 'graphql-scalars';
import { Field, InputType, registerEnumType } from 'type-graphql';
import { AppError } from '../errors/app-error';

export const DateTime = DateTimeResolver;
export const JSONObject = JSONObjectResolver;

export enum OrderDirection {
  ASC = 'ASC',
  DESC = 'DESC',
}

export const sqlDirection = (d: OrderDirection | null | undefined): 'asc' | 'desc' =>
  d === OrderDirection.DESC ? 'desc' : 'asc';
registerEnumType(OrderDirection, { name: 'OrderDirection', description: 'Sort direction.' });

@InputType({ description: 'A time range; either end may be open.' })
export class DateTimeRange {
  @Field(() => DateTime, { nullable: true, description: 'Inclusive start.' })
  from?: Date | null;

  @Field(() => DateTime, { nullable: true, description: 'Exclusive end.' })
  to?: Date | null;
}

/** Checks that a range's start comes before its end. */
export function checkRange(range: DateTimeRange | null | undefined, field: string): void {
  if (range?.from && range.to && range.from >= range.to) {
    throw new AppError('BAD_USER_INPUT', `${field}.from must be before ${field}.to`, { field });
  }
}

export { likePattern } from '../domain/text';
