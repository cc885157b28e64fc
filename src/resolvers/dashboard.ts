import { Arg, Ctx, Extensions, Field, Float, Int, ObjectType, Query, Resolver } from 'type-graphql';
import { cost, DASHBOARD_COST } from '../graphql/limits/cost-model';
import type { GraphQLContext } from '../graphql/context';
import { dailyFigures } from '../domain/dashboard.service';
import { DateTime } from './common';

@ObjectType()
export class StatusCount {
  @Field()
  status!: string;

  @Field(() => Int)
  count!: number;
}

@ObjectType({ description: 'Figures for one day in the company time zone.' })
export class Dashboard {
  @Field(() => DateTime)
  from!: Date;

  @Field(() => DateTime)
  to!: Date;

  @Field(() => [StatusCount], { description: 'Appointments starting that day, per status.' })
  appointmentsByStatus!: StatusCount[];

  @Field(() => Int, { description: 'Scheduled or confirmed appointments still to come that day.' })
  upcomingToday!: number;

  @Field(() => Int)
  callsToday!: number;

  @Field(() => Float, { description: 'Share of that day’s calls that led to a booking (0 to 1).' })
  callBookingRate!: number;

  @Field(() => Int, { description: 'Callback requests not yet done or expired.' })
  openCallbackRequests!: number;
}

@Resolver()
export class DashboardResolver {
  @Query(() => Dashboard, {
    description: 'Daily figures, computed by aggregate SQL. `date` is YYYY-MM-DD (default today).',
  })
  @Extensions(cost(DASHBOARD_COST))
  async dashboard(
    @Arg('date', () => String, { nullable: true }) date: string | null,
    @Ctx() { ctx }: GraphQLContext,
  ): Promise<Dashboard> {
    return dailyFigures(ctx, date);
  }
}
