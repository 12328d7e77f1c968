export { type Chunk, chunkMarkdown } from './chunk.js';
export {
  type CreatedNote,
  type KbHit,
  KnowledgeBase,
  type KnowledgeBaseOptions,
  type NewNote,
  type NoteChange,
  type NoteSummary,
  type UpdatedNote,
} from './knowledge-base.js';
export { checkNotePath, type Note, type NoteMeta, notePath, parseNote, renderNote, slugify } from './note.js';
