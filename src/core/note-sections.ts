/**
 * A memory that indexes a section of a knowledge-base note (source `kb`, with `metadata.kbPath`)
 * belongs to its note: deleted or forgotten alone it would come back when the note is indexed
 * again, so only the knowledge base's own index (src/kb) drops it. A user deletes or edits the
 * note instead. Every front end (REST, MCP, CLI, UI, bot) gets this rule from the service.
 */
import { EngramError } from './errors.js';
import type { Memory } from './types.js';

/** The path of the note whose section `memory` indexes; null for any other memory. */
export function notePathOf(memory: Pick<Memory, 'source' | 'metadata'>): string | null {
  return memory.source === 'kb' && typeof memory.metadata.kbPath === 'string' ? memory.metadata.kbPath : null;
}

/** Refuses (`conflict`, with `details.notePath`) to delete or forget a note's section on its own. */
export function assertNotNoteSection(memory: Memory, verb: 'deleted' | 'forgotten'): void {
  const notePath = notePathOf(memory);
  if (notePath === null) return;
  throw new EngramError(
    'conflict',
    `memory ${memory.id} is a section of the note ${notePath} and cannot be ${verb} on its own (it would come back when the note is indexed again): delete or edit the note instead`,
    { details: { notePath } },
  );
}
