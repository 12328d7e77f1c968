/**
 * Splits a note's markdown into chunks for indexing: one per section, each starting with the
 * headings above it (`Title › Section › Subsection`), so a chunk found alone still says what it is
 * about. Sections longer than `maxChars` are split at paragraph breaks (a single paragraph longer
 * than that is split at sentence ends, then hard). Headings inside fenced code blocks are not
 * headings.
 */

export interface Chunk {
  /** `Title › Section › …` */
  heading: string;
  /** The heading line followed by the section's text. */
  content: string;
}

const HEADING = /^(#{1,6})\s+(.+?)\s*#*\s*$/;
const FENCE = /^\s*(```|~~~)/;

export function chunkMarkdown(title: string, body: string, maxChars = 1_500): Chunk[] {
  const sections: { path: string[]; lines: string[] }[] = [];
  const stack: { level: number; text: string }[] = [];
  let current: { path: string[]; lines: string[] } = { path: [], lines: [] };
  let fence: string | null = null;
  for (const line of body.split(/\r?\n/)) {
    const fenceMatch = FENCE.exec(line);
    if (fenceMatch) fence = fence === null ? (fenceMatch[1] as string) : fence === fenceMatch[1] ? null : fence;
    const heading = fence === null && !fenceMatch ? HEADING.exec(line) : null;
    if (!heading) {
      current.lines.push(line);
      continue;
    }
    sections.push(current);
    const level = (heading[1] as string).length;
    while (stack.length > 0 && (stack.at(-1)?.level ?? 0) >= level) stack.pop();
    stack.push({ level, text: (heading[2] as string).trim() });
    current = { path: stack.map((entry) => entry.text), lines: [] };
  }
  sections.push(current);

  const chunks: Chunk[] = [];
  for (const section of sections) {
    const text = section.lines.join('\n').trim();
    // A heading with nothing under it is carried by its subsections' paths.
    if (text === '') continue;
    const path = section.path[0] === title ? section.path : [title, ...section.path];
    const heading = path.join(' › ');
    for (const piece of pieces(text, Math.max(200, maxChars - heading.length - 1))) {
      chunks.push({ heading, content: `${heading}\n${piece}` });
    }
  }
  if (chunks.length === 0) chunks.push({ heading: title, content: title });
  return chunks;
}

/** `text` in pieces of at most `max` characters, split at paragraph, then sentence, then hard breaks. */
function pieces(text: string, max: number): string[] {
  if (text.length <= max) return [text];
  const out: string[] = [];
  let piece = '';
  const push = (part: string, separator: string) => {
    if (piece === '') piece = part;
    else if (piece.length + separator.length + part.length <= max) piece += separator + part;
    else {
      out.push(piece);
      piece = part;
    }
  };
  for (const paragraph of text.split(/\n\s*\n/)) {
    if (paragraph.length <= max) {
      push(paragraph.trim(), '\n\n');
      continue;
    }
    for (const sentence of paragraph.split(/(?<=[.!?])\s+/)) {
      for (let i = 0; i < sentence.length; i += max) push(sentence.slice(i, i + max), ' ');
    }
  }
  if (piece !== '') out.push(piece);
  return out;
}
