import type { AppointmentSource } from '../domain/enums';
import type { UserRole } from '../domain/enums';

/**
 * The demo companies: three businesses of uneven size in three time zones, described as data so
 * the seed, the README and the start banner all read the same facts. Together they hold the
 * volume of the system this one replaces: 117 appointments, 60 customers and 100 calls.
 */

/** Working time on one ISO weekday (1 = Monday) as local `HH:mm` ranges; a gap is a break. */
export type DayHours = ReadonlyArray<readonly [string, string]>;

export interface ServicePlan {
  key: string;
  name: string;
  durationMinutes: number;
  bufferMinutes: number;
  priceCents: number;
}

export interface CategoryPlan {
  name: string;
  services: readonly ServicePlan[];
}

export interface StaffPlan {
  key: string;
  name: string;
  email: string;
  branch: string;
  color: string;
  services: readonly string[];
  /** ISO weekday to working time; days not listed are days off. */
  hours: Readonly<Record<number, DayHours>>;
}

export interface TimeOffPlan {
  staff: string;
  /** Days from today (negative: past), whole local days. */
  fromDay: number;
  days: number;
  reason: string;
}

export interface PolicyPlan {
  type: 'booking' | 'cancellation' | 'rescheduling';
  config: Record<string, number | null>;
  branch?: string;
  service?: string;
}

export interface UserPlan {
  email: string;
  name: string;
  roles: readonly UserRole[];
  staff?: string;
}

export interface CompanyPlan {
  slug: string;
  name: string;
  timezone: string;
  region: 'DE' | 'AT' | 'US';
  currency: string;
  locale: string;
  branches: ReadonlyArray<{ key: string; name: string; address: string; phone: string }>;
  categories: readonly CategoryPlan[];
  staff: readonly StaffPlan[];
  timeOff: readonly TimeOffPlan[];
  policies: readonly PolicyPlan[];
  users: readonly UserPlan[];
  /** One voice agent per listed branch, answering that branch's number. */
  agents: ReadonlyArray<{ branch: string; name: string; agentId: string }>;
  /** Cal.com event types booking a service, and Cal.com users who are staff members. */
  calcom?: {
    eventTypes: ReadonlyArray<{ id: number; service: string; label: string }>;
    members: ReadonlyArray<{ userId: number; email: string; staff: string }>;
  };
  counts: { customers: number; appointments: number; calls: number };
  sources: ReadonlyArray<readonly [AppointmentSource, number]>;
  firstNames: readonly string[];
  lastNames: readonly string[];
  /** Mobile phone prefixes (country code included) and how many digits follow. */
  mobilePrefixes: readonly string[];
  mobileDigits: number;
  noteTemplates: readonly string[];
}

const WEEKDAYS = [1, 2, 3, 4, 5] as const;
const week = (day: DayHours, extra: Record<number, DayHours> = {}): Record<number, DayHours> => ({
  ...Object.fromEntries(WEEKDAYS.map((d) => [d, day])),
  ...extra,
});

const SALON_DAY: DayHours = [
  ['09:00', '13:00'],
  ['13:30', '18:00'],
];
const SALON_SATURDAY: DayHours = [['09:00', '14:00']];

export const SALON: CompanyPlan = {
  slug: 'salon-schoenhaar',
  name: 'Salon Schönhaar',
  timezone: 'Europe/Berlin',
  region: 'DE',
  currency: 'EUR',
  locale: 'de-DE',
  branches: [
    { key: 'mitte', name: 'Mitte', address: 'Torstraße 112, 10119 Berlin', phone: '+493040051200' },
    {
      key: 'prenzlauer-berg',
      name: 'Prenzlauer Berg',
      address: 'Kastanienallee 23, 10435 Berlin',
      phone: '+493040051300',
    },
  ],
  categories: [
    {
      name: 'Haarschnitt',
      services: [
        {
          key: 'cut-women',
          name: 'Damenhaarschnitt',
          durationMinutes: 45,
          bufferMinutes: 10,
          priceCents: 4800,
        },
        {
          key: 'cut-men',
          name: 'Herrenhaarschnitt',
          durationMinutes: 30,
          bufferMinutes: 5,
          priceCents: 2900,
        },
        {
          key: 'cut-kids',
          name: 'Kinderhaarschnitt',
          durationMinutes: 30,
          bufferMinutes: 5,
          priceCents: 1900,
        },
      ],
    },
    {
      name: 'Farbe',
      services: [
        { key: 'colour', name: 'Färben', durationMinutes: 90, bufferMinutes: 15, priceCents: 7900 },
        {
          key: 'highlights',
          name: 'Strähnchen',
          durationMinutes: 120,
          bufferMinutes: 15,
          priceCents: 9900,
        },
      ],
    },
    {
      name: 'Styling',
      services: [
        {
          key: 'blow-dry',
          name: 'Föhnen',
          durationMinutes: 30,
          bufferMinutes: 5,
          priceCents: 2500,
        },
        {
          key: 'updo',
          name: 'Hochsteckfrisur',
          durationMinutes: 60,
          bufferMinutes: 10,
          priceCents: 5500,
        },
      ],
    },
  ],
  staff: [
    {
      key: 'lena',
      name: 'Lena Hoffmann',
      email: 'lena.hoffmann@salon.example',
      branch: 'mitte',
      color: '#e76f51',
      services: ['cut-women', 'cut-men', 'colour', 'highlights', 'blow-dry'],
      hours: week(SALON_DAY, { 6: SALON_SATURDAY }),
    },
    {
      key: 'jonas',
      name: 'Jonas Weber',
      email: 'jonas.weber@salon.example',
      branch: 'mitte',
      color: '#2a9d8f',
      services: ['cut-men', 'cut-kids', 'blow-dry', 'updo'],
      hours: week(SALON_DAY),
    },
    {
      key: 'mia',
      name: 'Mia Schulz',
      email: 'mia.schulz@salon.example',
      branch: 'mitte',
      color: '#e9c46a',
      services: ['cut-women', 'colour', 'highlights', 'updo'],
      hours: week(SALON_DAY),
    },
    {
      key: 'aylin',
      name: 'Aylin Demir',
      email: 'aylin.demir@salon.example',
      branch: 'prenzlauer-berg',
      color: '#264653',
      services: ['cut-women', 'cut-men', 'cut-kids', 'colour'],
      hours: week(SALON_DAY, { 6: SALON_SATURDAY }),
    },
    {
      key: 'tom',
      name: 'Tom Becker',
      email: 'tom.becker@salon.example',
      branch: 'prenzlauer-berg',
      color: '#f4a261',
      services: ['cut-men', 'cut-kids', 'blow-dry'],
      // Part time, Monday to Wednesday.
      hours: { 1: SALON_DAY, 2: SALON_DAY, 3: SALON_DAY },
    },
  ],
  timeOff: [
    { staff: 'aylin', fromDay: 7, days: 5, reason: 'Urlaub' },
    { staff: 'jonas', fromDay: -3, days: 1, reason: 'Krank' },
  ],
  policies: [
    { type: 'booking', config: { minNoticeHours: 2, horizonDays: 60, maxPerCustomerPerDay: 1 } },
    { type: 'cancellation', config: { minNoticeHours: 24, feeCents: 1500 } },
    { type: 'rescheduling', config: { minNoticeHours: 12, maxReschedules: 2 } },
    { type: 'booking', branch: 'prenzlauer-berg', config: { minNoticeHours: 4 } },
  ],
  users: [
    { email: 'admin@salon.example', name: 'Sabine Schön', roles: ['admin'] },
    { email: 'manager@salon.example', name: 'Markus Roth', roles: ['manager'] },
    { email: 'staff@salon.example', name: 'Lena Hoffmann', roles: ['staff'], staff: 'lena' },
  ],
  agents: [
    { branch: 'mitte', name: 'Schönhaar Mitte Empfang', agentId: 'agent_5a1f0c3e9b2d4e6f8a7b' },
    {
      branch: 'prenzlauer-berg',
      name: 'Schönhaar Prenzlauer Berg Empfang',
      agentId: 'agent_6b2e1d4f0c3e5f7a9b8c',
    },
  ],
  calcom: {
    eventTypes: [
      { id: 710001, service: 'cut-women', label: 'Damenhaarschnitt (online)' },
      { id: 710002, service: 'cut-men', label: 'Herrenhaarschnitt (online)' },
    ],
    members: [
      { userId: 91001, email: 'lena.hoffmann@salon.example', staff: 'lena' },
      { userId: 91002, email: 'jonas.weber@salon.example', staff: 'jonas' },
    ],
  },
  counts: { customers: 30, appointments: 60, calls: 50 },
  sources: [
    ['phone', 35],
    ['web', 25],
    ['calcom', 25],
    ['manual', 15],
  ],
  firstNames: [
    'Anna',
    'Julia',
    'Laura',
    'Sophie',
    'Lukas',
    'Felix',
    'Paul',
    'Hannah',
    'Emma',
    'Leon',
    'Marie',
    'Noah',
    'Clara',
    'Ben',
    'Ida',
    'Elias',
  ],
  lastNames: [
    'Müller',
    'Schmidt',
    'Schneider',
    'Fischer',
    'Meyer',
    'Wagner',
    'Becker',
    'Wolf',
    'Krüger',
    'Neumann',
    'Braun',
    'Zimmermann',
    'Hartmann',
    'Lange',
  ],
  mobilePrefixes: ['+49151', '+49152', '+49157', '+49160', '+49170', '+49176'],
  mobileDigits: 8,
  noteTemplates: [
    'Bevorzugt Termine am Vormittag.',
    'Empfindliche Kopfhaut, mildes Shampoo verwenden.',
    'Stammkundin, kommt alle sechs Wochen.',
    'Möchte beim nächsten Mal Strähnchen besprechen.',
    'Allergisch gegen PPD: nur PPD-freie Farbe.',
  ],
};

const DENTAL_DAY: DayHours = [
  ['08:00', '12:00'],
  ['13:00', '17:00'],
];

export const DENTAL: CompanyPlan = {
  slug: 'zahnarzt-lindner',
  name: 'Zahnarztpraxis Dr. Lindner',
  timezone: 'Europe/Vienna',
  region: 'AT',
  currency: 'EUR',
  locale: 'de-AT',
  branches: [
    {
      key: 'mariahilf',
      name: 'Praxis Mariahilf',
      address: 'Mariahilfer Straße 88, 1070 Wien',
      phone: '+4315223400',
    },
  ],
  categories: [
    {
      name: 'Vorsorge',
      services: [
        {
          key: 'checkup',
          name: 'Kontrolle',
          durationMinutes: 30,
          bufferMinutes: 10,
          priceCents: 0,
        },
        {
          key: 'hygiene',
          name: 'Mundhygiene',
          durationMinutes: 60,
          bufferMinutes: 10,
          priceCents: 9500,
        },
      ],
    },
    {
      name: 'Behandlung',
      services: [
        {
          key: 'filling',
          name: 'Füllung',
          durationMinutes: 45,
          bufferMinutes: 15,
          priceCents: 12000,
        },
        {
          key: 'root-canal',
          name: 'Wurzelbehandlung',
          durationMinutes: 90,
          bufferMinutes: 15,
          priceCents: 35000,
        },
      ],
    },
    {
      name: 'Beratung',
      services: [
        {
          key: 'consultation',
          name: 'Erstberatung',
          durationMinutes: 20,
          bufferMinutes: 10,
          priceCents: 0,
        },
      ],
    },
  ],
  staff: [
    {
      key: 'lindner',
      name: 'Dr. Eva Lindner',
      email: 'eva.lindner@dental.example',
      branch: 'mariahilf',
      color: '#457b9d',
      services: ['checkup', 'filling', 'root-canal', 'consultation'],
      hours: { ...week(DENTAL_DAY), 5: [['08:00', '13:00']] },
    },
    {
      key: 'gruber',
      name: 'Dr. Paul Gruber',
      email: 'paul.gruber@dental.example',
      branch: 'mariahilf',
      color: '#1d3557',
      services: ['checkup', 'filling', 'consultation'],
      hours: { 1: DENTAL_DAY, 2: DENTAL_DAY, 3: DENTAL_DAY, 4: DENTAL_DAY },
    },
    {
      key: 'huber',
      name: 'Sarah Huber',
      email: 'sarah.huber@dental.example',
      branch: 'mariahilf',
      color: '#a8dadc',
      services: ['hygiene', 'checkup'],
      hours: { ...week(DENTAL_DAY), 5: [['08:00', '13:00']] },
    },
  ],
  timeOff: [{ staff: 'gruber', fromDay: 5, days: 2, reason: 'Fortbildung' }],
  policies: [
    { type: 'booking', config: { minNoticeHours: 24, horizonDays: 120, maxPerCustomerPerDay: 1 } },
    { type: 'cancellation', config: { minNoticeHours: 24, feeCents: 2500 } },
    { type: 'rescheduling', config: { minNoticeHours: 24, maxReschedules: 1 } },
    { type: 'cancellation', service: 'hygiene', config: { minNoticeHours: 48, feeCents: 3000 } },
  ],
  users: [
    { email: 'admin@dental.example', name: 'Eva Lindner', roles: ['admin'], staff: 'lindner' },
  ],
  agents: [
    {
      branch: 'mariahilf',
      name: 'Praxis Lindner Rezeption',
      agentId: 'agent_7c3f2e5a1d4f6a8b0c9d',
    },
  ],
  counts: { customers: 20, appointments: 37, calls: 32 },
  sources: [
    ['phone', 50],
    ['web', 20],
    ['manual', 30],
  ],
  firstNames: [
    'Katharina',
    'Stefan',
    'Andrea',
    'Florian',
    'Theresa',
    'Michael',
    'Johanna',
    'Matthias',
    'Elisabeth',
    'Georg',
    'Verena',
    'Lukas',
  ],
  lastNames: [
    'Gruber',
    'Huber',
    'Bauer',
    'Wagner',
    'Pichler',
    'Steiner',
    'Moser',
    'Mayer',
    'Hofer',
    'Leitner',
    'Berger',
    'Fuchs',
  ],
  mobilePrefixes: ['+43664', '+43676', '+43699'],
  mobileDigits: 7,
  noteTemplates: [
    'Angstpatientin: vor Behandlungsbeginn alles genau erklären.',
    'Nimmt Blutverdünner (Marcumar).',
    'Bevorzugt Termine nach 15 Uhr.',
    'Röntgenbilder vom Vorbehandler angefordert.',
  ],
};

const WORKSHOP_DAY: DayHours = [
  ['07:30', '12:00'],
  ['12:30', '16:30'],
];

export const WORKSHOP: CompanyPlan = {
  slug: 'brooklyn-auto-care',
  name: 'Brooklyn Auto Care',
  timezone: 'America/New_York',
  region: 'US',
  currency: 'USD',
  locale: 'en-US',
  branches: [
    {
      key: 'williamsburg',
      name: 'Williamsburg',
      address: '245 Kent Ave, Brooklyn, NY 11249',
      phone: '+17185550100',
    },
  ],
  categories: [
    {
      name: 'Maintenance',
      services: [
        {
          key: 'oil',
          name: 'Oil change',
          durationMinutes: 45,
          bufferMinutes: 15,
          priceCents: 6900,
        },
        {
          key: 'tires',
          name: 'Tire rotation',
          durationMinutes: 30,
          bufferMinutes: 10,
          priceCents: 3500,
        },
        {
          key: 'inspection',
          name: 'State inspection',
          durationMinutes: 60,
          bufferMinutes: 15,
          priceCents: 3700,
        },
      ],
    },
    {
      name: 'Repairs',
      services: [
        {
          key: 'brakes',
          name: 'Brake service',
          durationMinutes: 120,
          bufferMinutes: 15,
          priceCents: 24900,
        },
        {
          key: 'diagnostics',
          name: 'Diagnostics',
          durationMinutes: 60,
          bufferMinutes: 15,
          priceCents: 12000,
        },
      ],
    },
  ],
  staff: [
    {
      key: 'mike',
      name: 'Mike Russo',
      email: 'mike@workshop.example',
      branch: 'williamsburg',
      color: '#6d597a',
      services: ['oil', 'tires', 'inspection', 'brakes', 'diagnostics'],
      hours: week(WORKSHOP_DAY, { 6: [['08:00', '12:00']] }),
    },
    {
      key: 'carlos',
      name: 'Carlos Diaz',
      email: 'carlos@workshop.example',
      branch: 'williamsburg',
      color: '#b56576',
      services: ['oil', 'tires', 'diagnostics'],
      hours: week(WORKSHOP_DAY),
    },
  ],
  timeOff: [{ staff: 'carlos', fromDay: -10, days: 1, reason: 'Training' }],
  policies: [
    { type: 'booking', config: { minNoticeHours: 1, horizonDays: 30, maxPerCustomerPerDay: 2 } },
    { type: 'cancellation', config: { minNoticeHours: 4, feeCents: 0 } },
    { type: 'rescheduling', config: { minNoticeHours: 2, maxReschedules: 3 } },
  ],
  users: [{ email: 'admin@workshop.example', name: 'Dana Russo', roles: ['admin'] }],
  agents: [
    {
      branch: 'williamsburg',
      name: 'Brooklyn Auto Care front desk',
      agentId: 'agent_8d4a3f6b2e5a7b9c1d0e',
    },
  ],
  counts: { customers: 10, appointments: 20, calls: 18 },
  sources: [
    ['phone', 60],
    ['web', 25],
    ['manual', 15],
  ],
  firstNames: [
    'James',
    'Maria',
    'David',
    'Jennifer',
    'Robert',
    'Linda',
    'Kevin',
    'Aisha',
    'Daniel',
    'Grace',
  ],
  lastNames: [
    'Johnson',
    'Williams',
    'Brown',
    'Garcia',
    'Miller',
    'Davis',
    'Lopez',
    'Wilson',
    'Anderson',
    'Kim',
  ],
  // 555-0100 to 555-0199 are reserved for fiction in North America.
  mobilePrefixes: ['+171855501', '+134755501', '+191755501', '+164655501'],
  mobileDigits: 2,
  noteTemplates: [
    '2014 Honda Civic, silver. Prefers synthetic oil.',
    'Fleet customer: invoice the company account.',
    'Asked for a quote on new brake pads.',
  ],
};

export const DEMO_COMPANIES: readonly CompanyPlan[] = [SALON, DENTAL, WORKSHOP];

export const PLATFORM_ADMIN = {
  email: 'root@platform.example',
  name: 'Platform Operator',
} as const;
