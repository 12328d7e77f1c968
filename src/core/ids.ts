import { createHash } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';

/** Time-ordered identifiers: ids created later sort later. */
export const newId = (): string => uuidv7();

/** Normalisation for duplicate detection: Unicode NFC, trimmed, runs of whitespace folded. */
export function normaliseContent(content: string): string {
  return content.normalize('NFC').trim().replace(/\s+/gu, ' ');
}

export function contentHash(content: string): string {
  return createHash('sha256').update(normaliseContent(content)).digest('hex');
}

export const nowIso = (): string => new Date().toISOString();
