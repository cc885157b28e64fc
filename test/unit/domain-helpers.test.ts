import { crudAction } from '../../src/domain/audit';
import { isUuid, optionalId, requireId } from '../../src/domain/ids';
import { e164OrNull, normalisePhone } from '../../src/domain/phone';
import { likePattern, optionalText, requiredText } from '../../src/domain/text';
import { notFound } from '../../src/errors/app-error';

/** The one id, phone, text and error helper each: the rules every caller now shares. */

const id = '0b6f1c1e-8a43-4c35-9d3c-2f3c8f1b7a10';

test('ids: a malformed id is NOT_FOUND on its field, like an unknown one; case is folded', () => {
  expect(isUuid(id.toUpperCase())).toBe(true);
  expect(isUuid('x')).toBe(false);
  expect(requireId(id.toUpperCase(), 'serviceId', 'Service')).toBe(id);
  expect(() => requireId("1' or 1=1", 'serviceId', 'Service')).toThrow(
    expect.objectContaining({ code: 'NOT_FOUND', field: 'serviceId' }),
  );
  expect(optionalId(null, 'staffId', 'Staff member')).toBeNull();
});

test('text: trimmed, bounded, empty means absent, undefined leaves a value unchanged', () => {
  expect(requiredText('  Ada ', 'input.name')).toBe('Ada');
  expect(() => requiredText('   ', 'input.name')).toThrow(
    expect.objectContaining({ code: 'BAD_USER_INPUT', field: 'input.name' }),
  );
  expect(() => requiredText(42, 'input.name')).toThrow(
    expect.objectContaining({ code: 'BAD_USER_INPUT', field: 'input.name' }),
  );
  expect(optionalText(undefined, 'notes')).toBeUndefined();
  expect(optionalText('  ', 'notes')).toBeNull();
  expect(() => optionalText('x'.repeat(11), 'notes', 10)).toThrow(
    expect.objectContaining({ code: 'BAD_USER_INPUT', field: 'notes' }),
  );
  expect(likePattern('50%_off\\')).toBe('50\\%\\_off\\\\');
});

test('phone: national numbers read with the region; strict input names the field', () => {
  expect(e164OrNull('0151 2345 6789', 'DE')).toBe('+4915123456789');
  expect(e164OrNull('not a number', 'DE')).toBeNull();
  expect(e164OrNull(12345, 'DE')).toBeNull();
  expect(normalisePhone('0151 2345 6789', 'DE', 'customer.phone')).toBe('+4915123456789');
  expect(() => normalisePhone('', 'DE', 'customer.phone')).toThrow(
    expect.objectContaining({ code: 'BAD_USER_INPUT', field: 'customer.phone' }),
  );
  expect(() => normalisePhone('12', 'DE', 'customer.phone')).toThrow(
    expect.objectContaining({ code: 'BAD_USER_INPUT', field: 'customer.phone' }),
  );
});

test('errors and audit vocabulary', () => {
  expect(notFound('Customer', 'customerId')).toMatchObject({
    code: 'NOT_FOUND',
    field: 'customerId',
    message: 'Customer not found',
  });
  expect(notFound('Webhook event').field).toBeUndefined();
  expect(crudAction('ServiceCategory', 'create')).toBe('service_category.create');
  expect(crudAction('CustomerNote', 'delete')).toBe('customer_note.delete');
});
