/** Telegram HTML formatting for the bot's replies (Telegram's limit is 4,096 characters a message). */

import type { Message } from 'grammy/types';
import type { Source } from '../agent/agent.js';
import type { EraseOutcome, FoundMemory, SavedNote, UserStatus } from '../client/engram-client.js';
import { isEngramError, publicError } from '../core/errors.js';
import type { PendingMessage } from './journal.js';

export const MAX_MESSAGE = 4_096;

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function clip(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

export const HELP = [
  '<b>Engram</b> keeps what you send as notes in a git knowledge base, and remembers them.',
  '',
  '<b>Modes</b> (what plain messages do):',
  '/note — save each message, or a burst of forwarded messages, as one note (default)',
  '/ask — answer from your notes and memories',
  '/agent — talk to an assistant that uses your memory (needs an LLM on the server)',
  '',
  '<b>Commands</b>',
  '/ask &lt;question&gt; — ask once, whatever the mode',
  '/search &lt;words&gt; — find notes and memories, with their ids',
  '/delete &lt;id&gt; — delete one memory (/restore &lt;id&gt; brings it back)',
  '/forget &lt;id&gt; — erase one memory and its history for good',
  '/editnote &lt;path&gt; — change a note: its new text on the next lines',
  '/deletenote &lt;path&gt; — delete one of your notes (from git too)',
  '/export — all your memories as a JSONL file',
  '/status — what is stored for you',
  '/settings — current mode and settings',
  '/resetcontext — start the agent conversation afresh',
].join('\n');

/** A note's title, body, tags and category from the messages of one burst. */
export function noteFromMessages(messages: PendingMessage[]): {
  title: string;
  body: string;
  tags: string[];
  category: string | undefined;
} {
  const parts = messages.map((message) =>
    message.forwardedFrom ? `*Forwarded from ${message.forwardedFrom}*\n\n${message.text.trim()}` : message.text.trim(),
  );
  const text = messages.map((message) => message.text).join('\n');
  const hashtags = [...text.matchAll(/(?:^|\s)#([\p{L}\p{N}_]{1,64})/gu)].map((match) =>
    (match[1] as string).toLowerCase(),
  );
  const firstLine = (messages[0]?.text ?? '').split('\n').find((line) => line.trim() !== '') ?? 'note';
  return {
    title: clip(firstLine.replace(/(?:^|\s)#[\p{L}\p{N}_]+/gu, ' '), 80) || clip(firstLine, 80),
    body: parts.join('\n\n---\n\n'),
    tags: [...new Set(hashtags)],
    category: hashtags[0],
  };
}

export function savedText(note: SavedNote): string {
  const memories = `${note.memoryIds.length} ${note.memoryIds.length === 1 ? 'memory' : 'memories'}`;
  return note.created
    ? `📝 Saved <b>${escapeHtml(note.title)}</b>\n<code>${escapeHtml(note.path)}</code>\nIndexed as ${memories}.`
    : `📝 Already saved as <code>${escapeHtml(note.path)}</code>.`;
}

/** /editnote without new text: how to send it, and the current text to copy. */
export function editPrompt(path: string, body: string): string {
  return (
    `Send <code>/editnote ${escapeHtml(path)}</code> followed, on the next lines, by the note’s new text. ` +
    `Its current text:\n<pre>${escapeHtml(body.length > 3500 ? `${body.slice(0, 3499)}…` : body)}</pre>`
  );
}

/** The reply to /delete or /forget: `done`, nothing with that id, or the note the memory is a section of. */
export function eraseText(outcome: EraseOutcome, id: string, texts: { done: string }): string {
  if (outcome.done) return texts.done;
  if (outcome.notePath === null) return `No memory of yours has the id <code>${escapeHtml(id)}</code>.`;
  const path = escapeHtml(outcome.notePath);
  return (
    `That memory is a section of your note <code>${path}</code>, which would bring it back. ` +
    `Notes are deleted whole: /deletenote ${path}`
  );
}

/** Search results for Telegram: notes by title and path, other memories by content and id. */
export function resultsText(query: string, found: FoundMemory[], withIds: boolean): string {
  if (found.length === 0) return `Nothing relevant found for “${escapeHtml(clip(query, 100))}”.`;
  const lines = [`🔎 Best matches for “${escapeHtml(clip(query, 100))}”:`, ''];
  found.forEach((hit, i) => {
    const [heading = '', ...rest] = hit.content.split('\n');
    if (hit.kbPath) {
      lines.push(`${i + 1}. <b>${escapeHtml(clip(heading, 120))}</b>`);
      if (rest.length > 0) lines.push(escapeHtml(clip(rest.join(' '), 300)));
      lines.push(`<code>${escapeHtml(hit.kbPath)}</code>`);
    } else {
      lines.push(`${i + 1}. ${escapeHtml(clip(hit.content, 300))}`);
    }
    if (withIds) lines.push(`id <code>${escapeHtml(hit.id)}</code>`);
    lines.push('');
  });
  return fitMessage(lines.join('\n').trim());
}

/** An LLM's answer, then the notes and memories it cited. */
export function answerText(answer: string, sources: Source[]): string {
  const lines = [escapeHtml(answer)];
  if (sources.length > 0) {
    lines.push('', '<b>Sources</b>');
    sources.forEach((source, i) => {
      const label =
        source.kind === 'note' ? `<code>${escapeHtml(source.id)}</code>` : escapeHtml(clip(source.text, 120));
      lines.push(`${i + 1}. ${label}`);
    });
  }
  return fitMessage(lines.join('\n'));
}

export function statusText(status: UserStatus, mode: string, llm: boolean): string {
  const categories = status.categories
    .slice(0, 10)
    .map((entry) => `${escapeHtml(entry.name)}: ${entry.count}`)
    .join(', ');
  return [
    `<b>Memories</b>: ${status.memories}${categories ? ` (${categories})` : ''}`,
    `<b>Notes</b>: ${status.notes}`,
    `<b>Mode</b>: ${mode}`,
    `<b>LLM</b>: ${llm ? 'configured' : 'not configured (answers list the best matches)'}`,
  ].join('\n');
}

/** Cuts a reply to Telegram's limit, at a line break so no HTML tag is left open. */
export function fitMessage(text: string): string {
  if (text.length <= MAX_MESSAGE) return text;
  const cut = text.lastIndexOf('\n', MAX_MESSAGE - 2);
  return `${text.slice(0, cut > 0 ? cut : MAX_MESSAGE - 2)}\n…`;
}

/** Who a forwarded message first came from, as a note's body names them; null when it was not forwarded. */
export function forwardedFrom(message: Message): string | null {
  const origin = message.forward_origin;
  if (!origin) return null;
  switch (origin.type) {
    case 'user':
      return [origin.sender_user.first_name, origin.sender_user.last_name].filter(Boolean).join(' ');
    case 'hidden_user':
      return origin.sender_user_name;
    case 'chat':
      return origin.sender_chat.title ?? 'a chat';
    case 'channel':
      return origin.chat.title ?? 'a channel';
    default:
      return 'someone';
  }
}

/** A failure as the chat is told it: an Engram error's public message, anything else only that it failed. */
export function errorText(error: unknown): string {
  return isEngramError(error) ? publicError(error).message : 'something went wrong; the server log has the details';
}
