import type { IRuleTypeMap } from 'graphql-shield/typings/types';
import { allowFields, connectionRules, read, write } from '../graphql/shield-rules';

/**
 * Who may use these fields: services and service categories (catalog). Registered in
 * ./permissions.ts.
 */
export const serviceRules: IRuleTypeMap = {
  Query: {
    services: read('catalog'),
    serviceCategories: read('catalog'),
  },
  Mutation: {
    saveService: write('catalog'),
    archiveService: write('catalog'),
    saveServiceCategory: write('catalog'),
    archiveServiceCategory: write('catalog'),
  },
  ServiceCategory: allowFields(['id', 'name', 'description', 'sortOrder', 'archivedAt']),
  Service: allowFields([
    'id',
    'name',
    'description',
    'durationMinutes',
    'bufferMinutes',
    'priceCents',
    'currency',
    'archivedAt',
    'category',
    'branch',
  ]),
  ...connectionRules('ServiceCategory'),
  ...connectionRules('Service'),
};
