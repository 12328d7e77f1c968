/**
 * What the model is asked to return, and how its answer is made safe. The schemas given to the
 * model are deliberately loose (strings, optional fields) so that one bad field costs that field
 * or that fact, not the whole reply; every value is then checked with Engram's own input rules
 * before anything reaches the store.
 */
import { z } from 'zod';
import type { ParsedAdd } from '../core/insert.js';
import { dedupeTags } from '../core/new-memory.js';
import { categorySchema, contentSchema, LIMITS, tagSchema } from '../core/schemas.js';

/**
 * `.catch` makes a bad element or field null instead of failing the reply: a fact whose content
 * is not a string is dropped, an eventAt that is not a string is ignored, and so on.
 */
export const extractedSchema = z.object({
  facts: z.array(
    z
      .object({
        content: z.string().describe('One self-contained fact, understandable without the conversation.'),
        eventAt: z
          .string()
          .nullish()
          .catch(null)
          .describe('When it happened or will happen, ISO 8601 (e.g. 2026-05-01), only if the conversation says.'),
        category: z
          .string()
          .nullish()
          .catch(null)
          .describe('A short topic, e.g. "personal", "work", "health", "preferences".'),
        tags: z.array(z.string().catch('')).nullish().catch(null).describe('A few keywords.'),
      })
      .nullable()
      .catch(null),
  ),
});
export type Extracted = z.output<typeof extractedSchema>;

export const decidedSchema = z.object({
  decisions: z.array(
    z
      .object({
        fact: z.string().describe('The fact reference, e.g. "f1".'),
        action: z.string().describe('"add", "update" or "noop".'),
        target: z.string().nullish().catch(null).describe('For update and noop: the memory reference, e.g. "m2".'),
        reason: z.string().nullish().catch(null).describe('One short sentence: why.'),
      })
      .nullable()
      .catch(null),
  ),
});
export type Decided = z.output<typeof decidedSchema>;

/** What was dropped or fixed while making the model's facts safe, for stats and logs. */
export interface Sanitized {
  facts: ParsedAdd[];
  /** Facts dropped: empty, too long, or beyond the per-extraction limit. */
  dropped: number;
  /** Fields dropped from kept facts (an unreadable date, an invalid category or tag). */
  fieldsDropped: number;
}

const REASON_CHARS = 500;

/**
 * The model's facts as add inputs: each content must pass the add rules (non-empty, at most
 * LIMITS.contentChars); dates, categories and tags that do not pass are dropped from the fact (the
 * defaults then apply); at most `maxFacts` facts, and repeats within the reply are kept once.
 */
export function sanitizeFacts(extracted: Extracted, defaults: Omit<ParsedAdd, 'content'>, maxFacts: number): Sanitized {
  const facts: ParsedAdd[] = [];
  const seen = new Set<string>();
  let dropped = 0;
  let fieldsDropped = 0;
  for (const raw of extracted.facts) {
    if (raw === null) {
      dropped++;
      continue;
    }
    const content = raw.content.replace(/\s+/g, ' ').trim();
    if (!contentSchema.safeParse(content).success || facts.length >= maxFacts || seen.has(content)) {
      dropped++;
      continue;
    }
    seen.add(content);
    const eventAt = raw.eventAt ? isoDate(raw.eventAt) : null;
    if (raw.eventAt && eventAt === null) fieldsDropped++;
    const category = raw.category ? categorySchema.safeParse(raw.category.trim().toLowerCase()) : null;
    if (category && !category.success) fieldsDropped++;
    const tags = (raw.tags ?? []).filter((tag) => {
      const ok = tagSchema.safeParse(tag.trim()).success;
      if (!ok) fieldsDropped++;
      return ok;
    });
    const unitedTags = dedupeTags([...(defaults.tags ?? []), ...tags]).slice(0, LIMITS.tags);
    facts.push({
      ...defaults,
      content,
      ...(category?.success && defaults.category === undefined && { category: category.data }),
      ...(unitedTags.length > 0 && { tags: unitedTags }),
      ...(eventAt !== null && { eventAt }),
      ...(eventAt === null && defaults.eventAt !== undefined && { eventAt: defaults.eventAt }),
    });
  }
  return { facts, dropped, fieldsDropped };
}

/** A reason as the model wrote it, trimmed to one line of at most REASON_CHARS. */
export function cleanReason(reason: string | null | undefined): string | null {
  if (!reason) return null;
  const line = reason.replace(/[\p{C}\s]+/gu, ' ').trim();
  if (line.length === 0) return null;
  return line.length > REASON_CHARS ? `${line.slice(0, REASON_CHARS)}…` : line;
}

const YEAR_MIN = 1000;
const YEAR_MAX = 9999;

/** An ISO 8601 date or date-time as an instant (a date alone is midnight UTC); null when unreadable. */
export function isoDate(text: string): string | null {
  const value = text.trim();
  if (!/^\d{4}-\d{2}(-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?)?$/.test(value)) return null;
  const ms = Date.parse(value.length === 7 ? `${value}-01` : value);
  if (Number.isNaN(ms)) return null;
  const year = new Date(ms).getUTCFullYear();
  return year < YEAR_MIN || year > YEAR_MAX ? null : new Date(ms).toISOString();
}
