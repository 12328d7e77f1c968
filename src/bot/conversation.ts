/**
 * Questions answered from memory: /ask (and plain messages in ask mode, or in agent mode without
 * an LLM), and agent mode's turns, each with its chat's conversation so far (kept in memory;
 * /resetcontext clears it).
 */
import type { Context } from 'grammy';
import { answerFromMemory, runAgent, type Source } from '../agent/agent.js';
import type { ChatMessage, ChatModel } from '../llm/index.js';
import type { HandlerDeps } from './commands.js';
import { answerText, resultsText } from './format.js';

/** Agent conversation turns kept per chat (user and assistant messages). */
const CONTEXT_TURNS = 20;

export interface ConversationOptions extends HandlerDeps {
  /** The chat model, when one is configured: grounded answers and agent mode. */
  llm: ChatModel | null;
  /** Tool-calling rounds an agent turn may take. */
  maxSteps: number;
}

type ChatContext = Context & { chat: { id: number } };

export class Conversations {
  readonly #options: ConversationOptions;
  /** Agent mode: each chat's conversation so far. */
  readonly #turns = new Map<number, ChatMessage[]>();

  constructor(options: ConversationOptions) {
    this.#options = options;
  }

  /**
   * With an LLM, an answer grounded in the best matching memories and notes, citing them;
   * without, those matches.
   */
  async answer(ctx: ChatContext, question: string): Promise<void> {
    const { llm, client, user, guard } = this.#options;
    await guard(ctx, async () => {
      await ctx.replyWithChatAction('typing');
      if (llm) {
        const { answer, sources } = await answerFromMemory(llm, client, user(ctx), question);
        await ctx.reply(answerText(answer, sources), { parse_mode: 'HTML' });
        return;
      }
      const found = await client.search(user(ctx), question, 6);
      await ctx.reply(resultsText(question, found, false), { parse_mode: 'HTML' });
    });
  }

  /** Agent mode: one turn of the memory agent, with this chat's conversation so far. */
  async agent(ctx: ChatContext, text: string, llm: ChatModel): Promise<void> {
    const { client, user, guard, maxSteps } = this.#options;
    await guard(ctx, async () => {
      await ctx.replyWithChatAction('typing');
      const history = [...(this.#turns.get(ctx.chat.id) ?? []), { role: 'user' as const, content: text }];
      let reply = '';
      let sources: Source[] = [];
      for await (const event of runAgent({ model: llm, client, maxSteps }, user(ctx), history)) {
        if (event.type === 'done') {
          reply = event.text;
          sources = event.sources;
        }
      }
      const kept = [...history, { role: 'assistant' as const, content: reply }].slice(-CONTEXT_TURNS);
      this.#turns.set(ctx.chat.id, kept);
      await ctx.reply(
        answerText(
          reply || '…',
          sources.filter((source) => source.kind === 'note'),
        ),
        { parse_mode: 'HTML' },
      );
    });
  }

  /** Starts a chat's agent conversation afresh. */
  reset(chatId: number): void {
    this.#turns.delete(chatId);
  }
}
