import type { IRuleTypeMap } from 'graphql-shield/typings/types';
import { allowFields, connectionRules, read, write } from '../graphql/shield-rules';

/**
 * Who may use these fields: calls, phone numbers and a call's voice-agent function-call log (read
 * as the call itself). Registered in ./permissions.ts.
 */
export const callRules: IRuleTypeMap = {
  Query: {
    calls: read('calls'),
    phoneNumbers: read('phoneNumbers'),
  },
  Mutation: {
    savePhoneNumber: write('phoneNumbers'),
  },
  Call: {
    ...allowFields([
      'id',
      'retellCallId',
      'direction',
      'status',
      'fromNumber',
      'toNumber',
      'startedAt',
      'endedAt',
      'durationMs',
      'summary',
      'transcript',
      'sentiment',
      'callSuccessful',
      'disconnectionReason',
      'outcome',
      'createdAt',
    ]),
    customer: read('customers'),
    phoneNumber: read('phoneNumbers'),
    functionCalls: read('calls'),
  },
  PhoneNumber: allowFields(['id', 'numberE164', 'label', 'active', 'branch']),
  ...connectionRules('Call'),
  ...connectionRules('PhoneNumber'),
  VoiceFunctionCall: allowFields([
    'id',
    'functionName',
    'outcome',
    'errorCode',
    'latencyMs',
    'replayed',
    'createdAt',
  ]),
};
