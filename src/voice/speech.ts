import { DateTime } from 'luxon';

/**
 * What the voice agent says: short sentences in the company's language (German or English), with
 * dates and times spoken naturally in the company's time zone.
 */
export type Language = 'de' | 'en';

export function languageOf(value: unknown, region?: string): Language {
  if (value === 'de' || value === 'en') return value;
  return region && ['DE', 'AT', 'CH', 'LI', 'LU'].includes(region.toUpperCase()) ? 'de' : 'en';
}

const locale = (lang: Language) => (lang === 'de' ? 'de-DE' : 'en-US');

/** "Dienstag, 3. Dezember, um 14:30 Uhr" / "Tuesday, December 3, at 2:30 PM". */
export function spokenDateTime(at: Date, zone: string, lang: Language): string {
  const dt = DateTime.fromJSDate(at, { zone }).setLocale(locale(lang));
  if (lang === 'de') return `${dt.toFormat('cccc, d. LLLL')}, um ${dt.toFormat('HH:mm')} Uhr`;
  return `${dt.toFormat('cccc, LLLL d')}, at ${dt.toFormat('h:mm a')}`;
}

/** "Dienstag, 3. Dezember" / "Tuesday, December 3". */
export function spokenDate(at: Date | DateTime, zone: string, lang: Language): string {
  const dt = (at instanceof Date ? DateTime.fromJSDate(at) : at)
    .setZone(zone)
    .setLocale(locale(lang));
  return lang === 'de' ? dt.toFormat('cccc, d. LLLL') : dt.toFormat('cccc, LLLL d');
}

export function spokenPrice(cents: number, currency: string, lang: Language): string {
  return new Intl.NumberFormat(locale(lang), {
    style: 'currency',
    currency,
    minimumFractionDigits: cents % 100 === 0 ? 0 : 2,
  })
    .format(cents / 100)
    .replace(/\u00a0/g, ' ');
}

export function spokenMinutes(minutes: number, lang: Language): string {
  if (lang === 'de') return `${minutes} Minuten`;
  return `${minutes} minutes`;
}

/** "a, b und c" / "a, b or c". */
export function spokenList(items: string[], lang: Language, joiner?: 'and' | 'or'): string {
  if (items.length <= 1) return items.join('');
  const word =
    lang === 'de' ? (joiner === 'and' ? 'und' : 'oder') : joiner === 'and' ? 'and' : 'or';
  return `${items.slice(0, -1).join(', ')} ${word} ${items[items.length - 1]}`;
}

const WEEKDAYS: Record<Language, string[]> = {
  de: ['Montag', 'Dienstag', 'Mittwoch', 'Donnerstag', 'Freitag', 'Samstag', 'Sonntag'],
  en: ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'],
};

export function weekdayName(isoWeekday: number, lang: Language): string {
  return WEEKDAYS[lang][isoWeekday - 1] ?? '';
}

function clock(hhmm: string, lang: Language): string {
  const [h, m] = hhmm.split(':').map(Number);
  if (lang === 'de') return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`;
  const dt = DateTime.fromObject({ hour: h, minute: m });
  return dt.toFormat(m === 0 ? 'h a' : 'h:mm a');
}

/**
 * Opening hours in words from intervals per ISO weekday, e.g. "Montag bis Freitag 09:00 bis
 * 18:00 Uhr, Samstag 10:00 bis 14:00 Uhr, sonst geschlossen".
 */
export function spokenOpeningHours(byDay: Map<number, [string, string][]>, lang: Language): string {
  const text = (day: number) =>
    (byDay.get(day) ?? [])
      .map(([a, b]) =>
        lang === 'de'
          ? `${clock(a, lang)} bis ${clock(b, lang)} Uhr`
          : `${clock(a, lang)} to ${clock(b, lang)}`,
      )
      .join(lang === 'de' ? ' und ' : ' and ');
  const groups: { from: number; to: number; hours: string }[] = [];
  for (let d = 1; d <= 7; d++) {
    const hours = text(d);
    if (!hours) continue;
    const last = groups[groups.length - 1];
    if (last && last.hours === hours && last.to === d - 1) last.to = d;
    else groups.push({ from: d, to: d, hours });
  }
  if (groups.length === 0)
    return lang === 'de' ? 'keine Öffnungszeiten hinterlegt' : 'no opening hours on record';
  const parts = groups.map((g) => {
    const days =
      g.from === g.to
        ? weekdayName(g.from, lang)
        : g.to === g.from + 1
          ? `${weekdayName(g.from, lang)} ${lang === 'de' ? 'und' : 'and'} ${weekdayName(g.to, lang)}`
          : `${weekdayName(g.from, lang)} ${lang === 'de' ? 'bis' : 'to'} ${weekdayName(g.to, lang)}`;
    return `${days} ${g.hours}`;
  });
  const openDays = groups.reduce((n, g) => n + g.to - g.from + 1, 0);
  if (openDays < 7) parts.push(lang === 'de' ? 'sonst geschlossen' : 'closed otherwise');
  return parts.join(', ');
}
