import { isUuid } from './keys';

/**
 * How a DocumentReference attachment refers to stored bytes. Stored form: `url` = `Binary/{id}`
 * (stable, never a link), with `size` and `hash`. On the way out the url becomes a signed link
 * and an extension says until when; or the url stays and an extension says the bytes are unavailable.
 */

export type Json = Record<string, unknown>;

export const EXT_LINK_EXPIRES = 'https://fhir.clinic.example/StructureDefinition/attachment-link-expires';
export const EXT_UNAVAILABLE = 'https://fhir.clinic.example/StructureDefinition/attachment-unavailable';
const OUR_EXTENSIONS = new Set([EXT_LINK_EXPIRES, EXT_UNAVAILABLE]);

export const isObject = (v: unknown): v is Json => !!v && typeof v === 'object' && !Array.isArray(v);

/** The Binary id a `Binary/{id}` url (relative, or absolute on our FHIR base) names; undefined otherwise. */
export function binaryIdOf(url: unknown, fhirBase: string): string | undefined {
  if (typeof url !== 'string') return undefined;
  const relative = url.startsWith(`${fhirBase}/`) ? url.slice(fhirBase.length + 1) : url;
  const m = /^Binary\/([^/?#]+)$/.exec(relative);
  return m && isUuid(m[1].toLowerCase()) ? m[1].toLowerCase() : undefined;
}

/** True for a url aimed at our Binary endpoint, well-formed or not (so a bad id is refused, not kept). */
export function looksLikeBinaryUrl(url: unknown, fhirBase: string): boolean {
  return typeof url === 'string' && (url.startsWith('Binary/') || url.startsWith(`${fhirBase}/Binary/`));
}

/** Each `content[i].attachment` object of a DocumentReference, with its FHIRPath-ish location. */
export function attachmentsOf(doc: Json): Array<{ attachment: Json; index: number }> {
  const content = doc.content;
  if (!Array.isArray(content)) return [];
  const out: Array<{ attachment: Json; index: number }> = [];
  content.forEach((item: unknown, index) => {
    if (isObject(item) && isObject(item.attachment)) out.push({ attachment: item.attachment, index });
  });
  return out;
}

/** A copy without the extensions this server adds on read, so a resource read and written back stays clean. */
export function withoutOurExtensions(attachment: Json): Json {
  if (!Array.isArray(attachment.extension)) return { ...attachment };
  const kept = attachment.extension.filter((e: unknown) => !(isObject(e) && typeof e.url === 'string' && OUR_EXTENSIONS.has(e.url)));
  const { extension: _dropped, ...rest } = attachment;
  return kept.length ? { ...rest, extension: kept } : rest;
}

export function addExtension(attachment: Json, extension: Json): void {
  attachment.extension = [...(Array.isArray(attachment.extension) ? attachment.extension : []), extension];
}

/** The DocumentReferences in a read's answer: the resource itself, or the entries of a Bundle. */
export function documentReferencesIn(body: unknown): Json[] {
  if (!isObject(body)) return [];
  if (body.resourceType === 'DocumentReference') return [body];
  if (body.resourceType !== 'Bundle' || !Array.isArray(body.entry)) return [];
  return body.entry.flatMap((e: unknown) => (isObject(e) && isObject(e.resource) && e.resource.resourceType === 'DocumentReference' ? [e.resource] : []));
}
