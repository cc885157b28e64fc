import type { Knex } from 'knex';
import { requireCustomerNoteChange } from '../../auth/ownership';
import type { RequestContext } from '../../context/request-context';
import { AppError, badInput, notFound } from '../../errors/app-error';
import { Customer, CustomerNote } from '../../models';
import { createRow, deleteRow, getById, updateRow } from '../../services/crud';
import { companySettings, optionalCompanyPhone } from '../companies/company-settings';
import { e164OrNull, formatInternational, normalisePhone } from '../phone';
import { optionalText, requiredText } from '../text';
import { AUDIT, SUBJECT } from '../audit';

/**
 * Customers: the one place that decides who a customer is and writes the `customers` and
 * `customer_notes` tables. GraphQL, booking (GraphQL, voice agent, Cal.com) and the Retell call
 * events all come here.
 *
 * Identity rule: a customer is found by the identifier the channel vouches for. Every channel
 * identifies by phone number (E.164, unique in the company). An email identifies only when the
 * channel verified it (a Cal.com attendee); an email typed into a booking form or said on the
 * phone never attaches a booking to someone else's record, and is left off a new customer when
 * another customer already holds it.
 */

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

const CUSTOMER_FIELDS = {
  customers_company_id_phone_e164_unique: 'input.phone',
  customers_company_id_email_unique: 'input.email',
};

/** Who a booking is for, as the channel gave it. */
export interface CustomerContact {
  /** Any format; national numbers are read with the company's default region. */
  phone?: unknown;
  name?: unknown;
  email?: unknown;
  preferredLanguage?: string | null;
}

export interface ContactOptions {
  /**
   * Strict (GraphQL, voice agent): a valid phone number is required and bad values are
   * BAD_USER_INPUT on `customer.*`. Lenient (provider payloads): what cannot be read is left off.
   */
  strict: boolean;
  /** The email was verified by the channel and may identify an existing customer. */
  emailVerified: boolean;
}

interface Contact {
  phoneE164: string | null;
  email: string | null;
  name: string | null;
  preferredLanguage: string | null;
}

export interface CustomerPlan {
  existing: Customer | null;
  create: {
    name: string;
    phoneE164: string | null;
    email: string | null;
    preferredLanguage: string | null;
  } | null;
  /** Changes to an existing customer: a real name for a number-only record, missing contacts. */
  patch: Partial<Pick<Customer, 'name' | 'phoneE164' | 'email'>>;
  /** Identifiers to check as free before `patch` fills them in. */
  fillIfFree: { phoneE164?: string; email?: string };
}

function contactOf(input: CustomerContact, region: string, options: ContactOptions): Contact {
  if (options.strict) {
    const phoneE164 = normalisePhone(input.phone, region, 'customer.phone');
    const name = optionalText(input.name, 'customer.name', 200) ?? null;
    const email = optionalText(input.email, 'customer.email', 254)?.toLowerCase() ?? null;
    if (email && !EMAIL.test(email)) {
      throw badInput('customer.email', 'customer.email is not an email address');
    }
    return { phoneE164, name, email, preferredLanguage: input.preferredLanguage ?? null };
  }
  const text = (v: unknown, max: number) =>
    typeof v === 'string' && v.trim() !== '' && v.trim().length <= max ? v.trim() : null;
  const email = text(input.email, 254)?.toLowerCase() ?? null;
  return {
    phoneE164: e164OrNull(input.phone, region),
    name: text(input.name, 200),
    email: email && EMAIL.test(email) ? email : null,
    preferredLanguage: text(input.preferredLanguage, 20),
  };
}

/** The customer with this phone number, if any. */
export async function findCustomerByPhone(
  trx: Knex.Transaction,
  phoneE164: string,
): Promise<Customer | null> {
  return (await Customer.query(trx).where('phone_e164', phoneE164).first()) ?? null;
}

/** The id and name of the customer with this phone number who is not archived, if any. */
export async function findActiveCustomerByPhone(
  trx: Knex.Transaction,
  phoneE164: string,
): Promise<Pick<Customer, 'id' | 'name'> | null> {
  const row = await Customer.query(trx)
    .where('phone_e164', phoneE164)
    .whereNull('archived_at')
    .first()
    .select('id', 'name');
  return row ?? null;
}

/** The customer with this raw phone number (any format, the company's region), if any. */
export async function findCustomerByAnyPhone(
  ctx: RequestContext,
  trx: Knex.Transaction,
  raw: unknown,
): Promise<Pick<Customer, 'id'> | null> {
  const phone = e164OrNull(raw, (await companySettings(ctx, trx)).defaultRegion);
  if (!phone) return null;
  return (await Customer.query(trx).findOne({ phone_e164: phone }).select('id')) ?? null;
}

async function findByIdentity(trx: Knex.Transaction, c: Contact, emailVerified: boolean) {
  if (emailVerified && c.email) {
    const byEmail = await Customer.query(trx).findOne({ email: c.email });
    if (byEmail) return byEmail;
  }
  return c.phoneE164 ? findCustomerByPhone(trx, c.phoneE164) : null;
}

/**
 * Reads who the contact is without writing: an existing customer (and what to fill in on it) or
 * the customer to create. Booking plans first so its per-customer limits can be checked, and
 * writes with `applyCustomerPlan` in its unit of work.
 */
export async function planCustomer(
  ctx: RequestContext,
  trx: Knex.Transaction,
  input: CustomerContact,
  options: ContactOptions,
): Promise<CustomerPlan> {
  const region = (await companySettings(ctx, trx)).defaultRegion;
  const c = contactOf(input, region, options);
  const existing = await findByIdentity(trx, c, options.emailVerified);
  if (existing) {
    const patch: CustomerPlan['patch'] = {};
    const fillIfFree: CustomerPlan['fillIfFree'] = {};
    if (c.name && existing.phoneE164 && existing.name === formatInternational(existing.phoneE164)) {
      patch.name = c.name;
    }
    // Only a verified contact fills in what the record lacks; never overwrites.
    if (options.emailVerified) {
      if (c.phoneE164 && !existing.phoneE164) fillIfFree.phoneE164 = c.phoneE164;
      if (c.email && !existing.email) fillIfFree.email = c.email;
    }
    return { existing, create: null, patch, fillIfFree };
  }
  const name =
    c.name ?? (c.phoneE164 ? formatInternational(c.phoneE164) : null) ?? c.email ?? 'Guest';
  return {
    existing: null,
    create: {
      name,
      phoneE164: c.phoneE164,
      email: c.email,
      preferredLanguage: c.preferredLanguage,
    },
    patch: {},
    fillIfFree: {},
  };
}

/**
 * Writes a plan: patches the existing customer, or creates the new one. A concurrent request may
 * be creating the same customer: the insert is insert-or-nothing and the winner is read back; an
 * email another customer holds is left off rather than failing. A created customer is audited.
 */
export async function applyCustomerPlan(
  ctx: RequestContext,
  trx: Knex.Transaction,
  plan: CustomerPlan,
  via: Record<string, unknown>,
  emailVerified = false,
): Promise<{ customer: Customer; created: boolean }> {
  if (plan.existing) {
    const patch = { ...plan.patch };
    const { phoneE164, email } = plan.fillIfFree;
    if (phoneE164 && !(await Customer.query(trx).findOne({ phone_e164: phoneE164 }))) {
      patch.phoneE164 = phoneE164;
    }
    if (email && !(await Customer.query(trx).findOne({ email }))) patch.email = email;
    if (Object.keys(patch).length === 0) return { customer: plan.existing, created: false };
    return { customer: await plan.existing.$query(trx).patchAndFetch(patch), created: false };
  }
  const data = plan.create!;
  const made = await insertCustomer(ctx, trx, data, emailVerified);
  if (made.created) {
    await ctx.audit({
      action: AUDIT.customer.created,
      subjectType: SUBJECT.customer,
      subjectId: made.customer.id,
      details: via,
    });
  }
  return made;
}

async function insertCustomer(
  ctx: RequestContext,
  trx: Knex.Transaction,
  data: NonNullable<CustomerPlan['create']>,
  emailVerified: boolean,
): Promise<{ customer: Customer; created: boolean }> {
  const companyId = ctx.requireCompanyId();
  const contact: Contact = { ...data };
  for (const email of data.email ? [data.email, null] : [null]) {
    const rows = await trx('customers')
      .insert({
        company_id: companyId,
        name: data.name,
        phone_e164: data.phoneE164,
        email,
        preferred_language: data.preferredLanguage,
      })
      .onConflict()
      .ignore()
      .returning<{ id: string }[]>('id');
    if (rows[0]) {
      const created = await Customer.query(trx).findById(rows[0].id);
      if (created) return { customer: created, created: true };
    }
    if (!data.phoneE164 && !data.email) break;
    const existing = await findByIdentity(trx, contact, emailVerified);
    if (existing) return { customer: existing, created: false };
  }
  throw new AppError('CONFLICT', 'The customer could not be recorded', { field: 'customer' });
}

// ---- GraphQL management of customers ----

export interface CustomerInput {
  name?: string | null;
  phone?: string | null;
  email?: string | null;
  preferredLanguage?: string | null;
}

export async function createCustomer(ctx: RequestContext, input: CustomerInput) {
  return createRow(
    ctx,
    Customer,
    {
      name: requiredText(input.name, 'input.name'),
      phoneE164: (await optionalCompanyPhone(ctx, input.phone, 'input.phone')) ?? null,
      email: input.email?.toLowerCase() ?? null,
      preferredLanguage:
        optionalText(input.preferredLanguage, 'input.preferredLanguage', 20) ?? null,
    },
    { what: 'Customer', fields: CUSTOMER_FIELDS },
  );
}

export async function updateCustomer(ctx: RequestContext, id: string, input: CustomerInput) {
  return updateRow(
    ctx,
    Customer,
    id,
    {
      name: input.name == null ? undefined : requiredText(input.name, 'input.name'),
      phoneE164: await optionalCompanyPhone(ctx, input.phone, 'input.phone'),
      email: input.email === undefined ? undefined : (input.email?.toLowerCase() ?? null),
      preferredLanguage: optionalText(input.preferredLanguage, 'input.preferredLanguage', 20),
    },
    { what: 'Customer', fields: CUSTOMER_FIELDS },
  );
}

/** Archives a customer; appointments and calls stay. */
export async function archiveCustomer(ctx: RequestContext, id: string) {
  return updateRow(ctx, Customer, id, { archivedAt: new Date() }, { what: 'Customer' });
}

export interface CustomerSearch {
  search?: string | null;
  includeArchived?: boolean;
}

/**
 * The customers query for a search: an email, a phone number in any format, or a name prefix
 * (a range on the stored lower-cased name, customers_name_prefix_idx; see the migration
 * 20261126005000 for why not lower(name) LIKE). `nameSearch` says the name range was used.
 */
export async function customerQuery(ctx: RequestContext, filter: CustomerSearch | null) {
  const q = Customer.query(await ctx.trx());
  if (!filter?.includeArchived) q.whereNull('archived_at');
  const search = filter?.search?.trim();
  let nameSearch = false;
  if (search) {
    if (search.includes('@')) {
      q.where('email', search.toLowerCase());
    } else if (/^[+\d][\d\s()./-]{4,}$/.test(search)) {
      const phone = e164OrNull(search, (await companySettings(ctx)).defaultRegion);
      q.where('phone_e164', phone ?? search.replace(/[^\d+]/g, ''));
    } else {
      const prefix = search.toLowerCase();
      q.where('name_search', '>=', prefix).where('name_search', '<', `${prefix}\u{10FFFF}`);
      nameSearch = true;
    }
  }
  return { query: q, nameSearch };
}

/** A customer's notes, for paging newest first. */
export async function customerNotesQuery(ctx: RequestContext, customerId: string) {
  return { query: CustomerNote.query(await ctx.trx()).where('customer_id', customerId) };
}

export async function addCustomerNote(ctx: RequestContext, customerId: string, body: string) {
  await getById(ctx, Customer, customerId, 'Customer', 'customerId');
  return createRow(
    ctx,
    CustomerNote,
    {
      customerId,
      body: requiredText(body, 'body', 10000),
      authorUserId: ctx.actor.kind === 'user' ? ctx.actor.userId : null,
    },
    { what: 'CustomerNote' },
  );
}

/** Deletes a note; only its author (or an admin or manager) may. */
export async function deleteCustomerNote(ctx: RequestContext, noteId: string) {
  return ctx.unitOfWork(async (trx) => {
    // Locked, so the author checked is the author of the row deleted.
    const note = await CustomerNote.query(trx).findById(noteId).forUpdate();
    if (!note) throw notFound('CustomerNote', 'id');
    requireCustomerNoteChange(ctx, note, 'id');
    return deleteRow(ctx, CustomerNote, noteId, { what: 'CustomerNote' });
  });
}
