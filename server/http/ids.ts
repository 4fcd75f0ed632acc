const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Our ids are UUIDs: anything else names nothing we store (and never reaches SQL as an id). */
export const isUuid = (v: unknown): v is string => typeof v === 'string' && UUID.test(v);
