import {
  Arg,
  Args,
  ArgsType,
  Field,
  ID,
  ObjectType,
  Resolver,
  Root,
  Subscription,
} from 'type-graphql';
import type { SubscribeResolverData } from 'type-graphql';
import { optionalLocalId } from '../graphql/ids';
import { liveStream, type LiveContext } from '../live/stream';
import type { LiveEvent } from '../live/bus';
import type { Appointment, Call, CallbackRequest } from '../models';
import { AppointmentNode } from './appointment';
import { CallNode } from './call';
import { CallbackRequestNode } from './callback-request';
import { DateTime } from './common';

@ObjectType({
  description: 'An appointment was created, rescheduled, cancelled or changed status.',
})
export class AppointmentChange {
  @Field({ description: 'CREATED, RESCHEDULED, CANCELLED or STATUS_CHANGED.' })
  action!: string;

  @Field(() => AppointmentNode, { description: 'The appointment as it is now.' })
  appointment!: Appointment;
}

@ObjectType({ description: 'A call started, ended or was analysed.' })
export class CallChange {
  @Field({ description: 'STARTED, ENDED or ANALYSED.' })
  action!: string;

  @Field(() => CallNode)
  call!: Call;
}

@ObjectType({ description: 'A callback request was created or changed.' })
export class CallbackRequestChange {
  @Field({ description: 'CREATED, ASSIGNED, CONTACTED, COMPLETED, EXPIRED, ...' })
  action!: string;

  @Field(() => CallbackRequestNode)
  callbackRequest!: CallbackRequest;
}

@ObjectType({
  description: 'Something the dashboard figures depend on changed: refetch `dashboard`.',
})
export class DashboardChange {
  @Field({ description: 'What changed: APPOINTMENT, CALL or CALLBACK.' })
  reason!: string;

  @Field({ description: 'The change, as in the matching subscription.' })
  action!: string;

  @Field(() => DateTime, { description: 'When the change was committed.' })
  changedAt!: Date;
}

@ArgsType()
class AppointmentChangedArgs {
  @Field(() => ID, { nullable: true, description: 'Only appointments of this branch.' })
  branchId?: string | null;

  @Field(() => ID, { nullable: true, description: 'Only appointments of this staff member.' })
  staffId?: string | null;
}

type Data = SubscribeResolverData<unknown, Record<string, unknown>, LiveContext>;

@Resolver()
export class LiveResolver {
  @Subscription(() => AppointmentChange, {
    description:
      'Appointments of the company as they change (booked by phone, Cal.com, or here). Staff users receive their own.',
    subscribe: ({ args, context }: Data) => {
      const a = args as AppointmentChangedArgs;
      const branchId = optionalLocalId(context.ctx, a.branchId, 'Branch', 'branchId');
      const staffId = optionalLocalId(context.ctx, a.staffId, 'Staff', 'staffId');
      return liveStream(context, {
        kinds: ['appointment'],
        reloadObject: true,
        accept: (_e, row) =>
          (!branchId || (row as Appointment).branchId === branchId) &&
          (!staffId || (row as Appointment).staffId === staffId),
        payload: (e, row) => ({ action: e.action, appointment: row }),
      });
    },
  })
  appointmentChanged(
    @Root() change: AppointmentChange,
    @Args() _args: AppointmentChangedArgs,
  ): AppointmentChange {
    return change;
  }

  @Subscription(() => CallChange, {
    description: 'Calls as they start, end and are analysed: the live "calls now" panel.',
    subscribe: ({ context }: Data) =>
      liveStream(context, {
        kinds: ['call'],
        reloadObject: true,
        payload: (e, row) => ({ action: e.action, call: row }),
      }),
  })
  callChanged(@Root() change: CallChange): CallChange {
    return change;
  }

  @Subscription(() => CallbackRequestChange, {
    description: 'Callback requests as callers ask for them and staff handle them.',
    subscribe: ({ args, context }: Data) => {
      const onlyNew = (args as { onlyNew?: boolean | null }).onlyNew === true;
      return liveStream(context, {
        kinds: ['callback'],
        reloadObject: true,
        accept: (e) => !onlyNew || e.action === 'CREATED',
        payload: (e, row) => ({ action: e.action, callbackRequest: row }),
      });
    },
  })
  callbackRequested(
    @Root() change: CallbackRequestChange,
    @Arg('onlyNew', () => Boolean, {
      nullable: true,
      description: 'Only new requests (CREATED), not later changes.',
    })
    _onlyNew?: boolean | null,
  ): CallbackRequestChange {
    return change;
  }

  @Subscription(() => DashboardChange, {
    description: 'Invalidations for the dashboard: refetch `dashboard` when one arrives.',
    subscribe: ({ context }: Data) =>
      liveStream(context, {
        kinds: ['appointment', 'call', 'callback'],
        reloadObject: false,
        payload: (e: LiveEvent) => ({
          reason: e.kind.toUpperCase(),
          action: e.action,
          changedAt: new Date(e.at),
        }),
      }),
  })
  dashboardChanged(@Root() change: DashboardChange): DashboardChange {
    return change;
  }
}
