// Calendar truth for FHIR date, dateTime, instant and time: the schema regexes accept 2023-02-30.

export type TemporalKind = 'date' | 'dateTime' | 'instant' | 'time';

const DATE_TIME = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;
const TIME = /^(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?$/;
const HOUR_MS = 3_600_000;

interface Parsed {
  year: number;
  month?: number;
  day?: number;
  time?: { hour: number; minute: number; second: number; millis: number; offsetMinutes?: number };
}

const SHAPES: Record<TemporalKind, string> = {
  date: 'YYYY, YYYY-MM or YYYY-MM-DD',
  dateTime: 'YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss(.sss) with a time zone',
  instant: 'YYYY-MM-DDThh:mm:ss(.sss) with a time zone',
  time: 'hh:mm:ss(.sss)',
};

export function temporalShape(kind: TemporalKind): string {
  return SHAPES[kind];
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

function clockProblem(hour: number, minute: number, second: number): string | undefined {
  if (hour > 23) return `hour ${hour} does not exist (the day ends at 23:59:59)`;
  if (minute > 59) return `minute ${minute} does not exist`;
  // Leap seconds cannot be placed without a leap-second table, so 60 is refused like 61.
  if (second > 59) return `second ${second} does not exist`;
  return undefined;
}

function parse(value: string): Parsed | string {
  const m = DATE_TIME.exec(value);
  if (!m) return 'not a recognisable date';
  const year = Number(m[1]);
  if (year === 0) return 'year 0000 does not exist';
  const parsed: Parsed = { year };
  if (m[2] === undefined) return parsed;
  const month = Number(m[2]);
  if (month < 1 || month > 12) return `month ${m[2]} does not exist`;
  parsed.month = month;
  if (m[3] === undefined) return parsed;
  const day = Number(m[3]);
  if (day < 1 || day > daysInMonth(year, month)) return `${m[1]}-${m[2]} has no day ${m[3]}`;
  parsed.day = day;
  if (m[4] === undefined) return parsed;
  const [hour, minute, second] = [Number(m[4]), Number(m[5]), Number(m[6])];
  const clock = clockProblem(hour, minute, second);
  if (clock) return clock;
  const millis = m[7] === undefined ? 0 : Number(`0.${m[7]}`) * 1000;
  parsed.time = { hour, minute, second, millis };
  if (m[8] === undefined) return parsed;
  if (m[8] !== 'Z') {
    const [oh, om] = [Number(m[8].slice(1, 3)), Number(m[8].slice(4, 6))];
    if (oh > 14 || om > 59 || (oh === 14 && om > 0)) return `time zone ${m[8]} does not exist`;
    parsed.time.offsetMinutes = (m[8][0] === '-' ? -1 : 1) * (oh * 60 + om);
  } else {
    parsed.time.offsetMinutes = 0;
  }
  return parsed;
}

/** Why `value` is not a real `kind`, or undefined when it is one. */
export function temporalProblem(kind: TemporalKind, value: string): string | undefined {
  if (kind === 'time') {
    const m = TIME.exec(value);
    return m ? clockProblem(Number(m[1]), Number(m[2]), Number(m[3])) : 'not a recognisable time';
  }
  const parsed = parse(value);
  if (typeof parsed === 'string') return parsed;
  if (kind === 'date' && parsed.time) return 'a date has no time part';
  if (kind === 'instant' && !parsed.time) return 'an instant needs a full date, a time and a time zone';
  if (parsed.time && parsed.time.offsetMinutes === undefined) return 'a time of day needs a time zone';
  return undefined;
}

function utc(year: number, month: number, day: number, hour = 0, minute = 0, second = 0, millis = 0): number {
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day); // setUTCFullYear, unlike Date.UTC, keeps years below 100
  d.setUTCHours(hour, minute, second, millis);
  return d.getTime();
}

interface Bounds {
  lo: number;
  hi: number;
  zoned: boolean;
}

// The earliest and latest instant a (possibly partial) dateTime can mean.
function bounds(value: string): Bounds | undefined {
  const p = parse(value);
  if (typeof p === 'string') return undefined;
  if (p.time && p.day !== undefined && p.month !== undefined) {
    const t = p.time;
    const at = utc(p.year, p.month, p.day, t.hour, t.minute, t.second, t.millis) - (t.offsetMinutes ?? 0) * 60_000;
    return { lo: at, hi: at, zoned: t.offsetMinutes !== undefined };
  }
  if (p.month === undefined) return { lo: utc(p.year, 1, 1), hi: utc(p.year + 1, 1, 1) - 1, zoned: false };
  if (p.day === undefined) return { lo: utc(p.year, p.month, 1), hi: utc(p.year, p.month + 1, 1) - 1, zoned: false };
  return { lo: utc(p.year, p.month, p.day), hi: utc(p.year, p.month, p.day + 1) - 1, zoned: false };
}

// Comparing a zoned instant with a zone-less date can be off by up to 14 hours either way.
function slack(a: Bounds, b: Bounds): number {
  return a.zoned === b.zoned ? 0 : 14 * HOUR_MS;
}

/** True only when `a` is after `b` whatever their precision and zones (unparseable values: false). */
export function certainlyAfter(a: string, b: string): boolean {
  const [x, y] = [bounds(a), bounds(b)];
  return x !== undefined && y !== undefined && x.lo > y.hi + slack(x, y);
}

/** True only when `a` is at or after `b` whatever their precision and zones. */
export function certainlyNotBefore(a: string, b: string): boolean {
  const [x, y] = [bounds(a), bounds(b)];
  return x !== undefined && y !== undefined && x.lo >= y.hi + slack(x, y);
}
