/**
 * The bot's commands that act on the user's memories and notes: each parses its argument, calls
 * the client and replies (format.ts). The commands about the chat itself (modes, /status,
 * /settings) are in bot.ts.
 */
import { type CommandContext, Composer, type Context, InputFile } from 'grammy';
import type { EngramClient } from '../client/engram-client.js';
import { editPrompt, eraseText, escapeHtml, resultsText } from './format.js';

/** The bot's commands as Telegram lists them (setMyCommands). */
export const COMMANDS = [
  { command: 'note', description: 'Save messages as notes (default mode)' },
  { command: 'ask', description: 'Answer from your notes and memories' },
  { command: 'agent', description: 'Assistant with memory (needs an LLM)' },
  { command: 'search', description: 'Find notes and memories' },
  { command: 'delete', description: 'Delete one memory by id (undoable)' },
  { command: 'restore', description: 'Bring a deleted memory back' },
  { command: 'forget', description: 'Erase one memory for good' },
  { command: 'editnote', description: 'Change the text of one of your notes' },
  { command: 'deletenote', description: 'Delete one of your notes' },
  { command: 'export', description: 'Download your memories (JSONL)' },
  { command: 'status', description: 'What is stored for you' },
  { command: 'settings', description: 'Current mode and settings' },
  { command: 'resetcontext', description: 'Start the agent conversation afresh' },
  { command: 'help', description: 'How to use this bot' },
];

/** What the handlers need of the bot. */
export interface HandlerDeps {
  client: EngramClient;
  /** The Engram user an update comes from. */
  user(ctx: Context): string;
  /** Runs `work`; a failure is logged and becomes a reply. */
  guard(ctx: Context, work: () => Promise<void>): Promise<void>;
}

/** /search, /delete, /restore, /forget, /deletenote, /editnote and /export. */
export function memoryCommands(deps: HandlerDeps): Composer<Context> {
  const { client, user, guard } = deps;
  const commands = new Composer<Context>();

  /** A command taking one memory id: usage when it is missing, the reply from `work` otherwise. */
  const byId = async (
    ctx: CommandContext<Context>,
    command: string,
    work: (user: string, id: string) => Promise<string>,
  ): Promise<void> => {
    const id = ctx.match.trim();
    if (id === '') return void (await ctx.reply(`Usage: /${command} <memory id> (ids are shown by /search)`));
    await guard(ctx, async () => {
      await ctx.reply(await work(user(ctx), id), { parse_mode: 'HTML' });
    });
  };

  commands.command('search', async (ctx) => {
    const query = ctx.match.trim();
    if (query === '') return void (await ctx.reply('Usage: /search <words>'));
    await guard(ctx, async () => {
      const found = await client.search(user(ctx), query, 8);
      await ctx.reply(resultsText(query, found, true), { parse_mode: 'HTML' });
    });
  });
  // One meaning per word, as in the CLI, REST and MCP: delete can be undone, restore undoes it,
  // forget erases for good. Notes are deleted whole (their file is in git), never one section.
  commands.command('delete', (ctx) =>
    byId(ctx, 'delete', async (owner, id) =>
      eraseText(await client.delete(owner, id), id, {
        done: `🗑 Deleted <code>${escapeHtml(id)}</code>. /restore ${escapeHtml(id)} brings it back.`,
      }),
    ),
  );
  commands.command('restore', (ctx) =>
    byId(ctx, 'restore', async (owner, id) =>
      (await client.restore(owner, id))
        ? `♻️ Restored <code>${escapeHtml(id)}</code>.`
        : 'No deleted memory of yours has that id.',
    ),
  );
  commands.command('forget', (ctx) =>
    byId(ctx, 'forget', async (owner, id) =>
      eraseText(await client.forget(owner, id), id, {
        done: `🧹 Forgotten for good: <code>${escapeHtml(id)}</code> and its history are erased.`,
      }),
    ),
  );
  commands.command('deletenote', async (ctx) => {
    const path = ctx.match.trim();
    if (path === '') return void (await ctx.reply('Usage: /deletenote <note path> (paths are shown by /search)'));
    await guard(ctx, async () => {
      const deleted = await client.deleteNote(user(ctx), path);
      await ctx.reply(
        deleted
          ? `🗑 Deleted the note <code>${escapeHtml(path)}</code>: its file is removed from the knowledge base (a git commit) and it is no longer found.`
          : 'You have no note at that path.',
        { parse_mode: 'HTML' },
      );
    });
  });
  commands.command('editnote', async (ctx) => {
    const [path = '', ...lines] = ctx.match.split('\n');
    const body = lines.join('\n').trim();
    if (path.trim() === '') {
      return void (await ctx.reply(
        'Usage: /editnote <note path>, then the note’s new text on the next lines (paths are shown by /search)',
      ));
    }
    await guard(ctx, async () => {
      const owner = user(ctx);
      if (body === '') {
        // No new text yet: show the current one to copy and change.
        const note = await client.readNote(owner, path.trim());
        await ctx.reply(editPrompt(note.path, note.body), { parse_mode: 'HTML' });
        return;
      }
      const edited = await client.editNote(owner, path.trim(), body);
      await ctx.reply(
        edited
          ? `✏️ Edited <code>${escapeHtml(path.trim())}</code> (same path; committed and searchable in its new words).`
          : 'You have no note at that path.',
        { parse_mode: 'HTML' },
      );
    });
  });
  commands.command('export', (ctx) =>
    guard(ctx, async () => {
      await ctx.replyWithChatAction('upload_document');
      const jsonl = await client.exportJsonl(user(ctx));
      const lines = jsonl === '' ? 0 : jsonl.trimEnd().split('\n').length;
      await ctx.replyWithDocument(new InputFile(Buffer.from(jsonl, 'utf8'), 'engram-export.jsonl'), {
        caption: `Your memories: ${lines} lines of JSONL (memories with their history).`,
      });
    }),
  );
  return commands;
}
