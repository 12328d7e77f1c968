import type { AddressInfo } from 'node:net';
import { type ServerType, serve } from '@hono/node-server';
import { Hono } from 'hono';

/**
 * A local stand-in for Telegram's Bot API servers, speaking the real wire format
 * (https://core.telegram.org/bots/api): `POST /bot<token>/<method>` with JSON or multipart bodies,
 * answers `{ok: true, result}` or `{ok: false, error_code, description}`, long-polled getUpdates
 * with offsets (an update is gone once a later offset confirms it), and file downloads at
 * `/file/bot<token>/<path>`. Tests push updates in and read what the bot sent.
 */

export interface SentMessage {
  method: string;
  chatId: number;
  messageId: number;
  text: string;
  parseMode?: string;
  /** For sendDocument: the file's name and content. */
  document?: { name: string; content: string };
}

interface Update {
  update_id: number;
  message: Record<string, unknown>;
}

export interface FakeTelegram {
  apiRoot: string;
  token: string;
  /** Everything the bot sent, in order (sendMessage, editMessageText, sendDocument). */
  sent: SentMessage[];
  /** Methods called, in order, with their parameters. */
  calls: { method: string; params: Record<string, unknown> }[];
  /** A text message update as Telegram would deliver it (for posting to a webhook yourself). */
  textUpdate(userId: number, text: string): { update_id: number; message: Record<string, unknown> };
  /** Queues a text message from `userId` in their private chat; returns its message id. */
  sendText(userId: number, text: string, options?: { forwardedFrom?: string }): number;
  /** Queues a document message; its content is served by getFile + the file URL. */
  sendDocument(userId: number, name: string, content: string, mimeType?: string): number;
  /** Updates not yet confirmed by the bot. */
  pending(): number;
  /**
   * Resolves when `predicate` holds for a sent message — among those from index `after` of `sent`
   * on (default: all) — and rejects after `timeoutMs`.
   */
  waitForSent(
    predicate: (message: SentMessage) => boolean,
    options?: { after?: number; timeoutMs?: number },
  ): Promise<SentMessage>;
  close(): Promise<void>;
}

export async function startFakeTelegram(token = '123456:TEST-token'): Promise<FakeTelegram> {
  const app = new Hono();
  const updates: Update[] = [];
  const sent: SentMessage[] = [];
  const calls: FakeTelegram['calls'] = [];
  const files = new Map<string, { path: string; content: string }>();
  const waiters = new Set<() => void>();
  let nextUpdate = 1;
  let nextMessage = 1_000;
  let nextSent = 50_000;
  const notify = () => {
    for (const wake of waiters) wake();
  };

  const user = (id: number) => ({ id, is_bot: false, first_name: `User${id}`, username: `user${id}` });
  const chat = (id: number) => ({ id, type: 'private', first_name: `User${id}` });
  const push = (message: Record<string, unknown>) => {
    updates.push({ update_id: nextUpdate++, message });
    notify();
  };

  const ok = (result: unknown) => ({ ok: true, result });

  app.get('/file/:bot/*', (c) => {
    const path = c.req.path.split('/').slice(3).join('/');
    const file = [...files.values()].find((entry) => entry.path === path);
    return file ? c.text(file.content) : c.json({ ok: false, error_code: 404, description: 'Not Found' }, 404);
  });

  app.post('/:bot/:method', async (c) => {
    if (c.req.param('bot') !== `bot${token}`) {
      return c.json({ ok: false, error_code: 401, description: 'Unauthorized' }, 401);
    }
    const method = c.req.param('method');
    const type = c.req.header('content-type') ?? '';
    let params: Record<string, unknown> = {};
    let document: SentMessage['document'];
    if (type.includes('multipart/form-data')) {
      // Telegram's parser is lenient (grammY writes `filename=x` unquoted); so is this one.
      const boundary = /boundary=(.+)$/.exec(type)?.[1] ?? '';
      for (const part of (await c.req.text()).split(`--${boundary}`)) {
        const split = part.indexOf('\r\n\r\n');
        if (split < 0) continue;
        const head = part.slice(0, split);
        const value = part.slice(split + 4).replace(/\r\n$/, '');
        const name = /name="?([^";\r\n]+)"?/.exec(head)?.[1] ?? '';
        const filename = /filename="?([^";\r\n]+)"?/.exec(head)?.[1];
        if (filename) document = { name: filename, content: value };
        else params[name] = value;
      }
    } else if (type.includes('application/json')) {
      params = (await c.req.json()) as Record<string, unknown>;
    }
    calls.push({ method, params });
    const chatId = Number(params.chat_id);

    switch (method) {
      case 'getMe':
        return c.json(
          ok({
            id: 42,
            is_bot: true,
            first_name: 'Engram',
            username: 'engram_test_bot',
            can_join_groups: false,
            can_read_all_group_messages: false,
            supports_inline_queries: false,
          }),
        );
      case 'deleteWebhook':
      case 'setWebhook':
      case 'setMyCommands':
      case 'sendChatAction':
        return c.json(ok(true));
      case 'getUpdates': {
        const offset = Number(params.offset ?? 0);
        // Confirmed updates are forgotten, as Telegram does.
        while (updates.length > 0 && (updates[0] as Update).update_id < offset) updates.shift();
        const timeout = Math.min(Number(params.timeout ?? 0), 2);
        if (updates.length === 0 && timeout > 0) {
          await new Promise<void>((resolve) => {
            const wake = () => {
              waiters.delete(wake);
              clearTimeout(timer);
              resolve();
            };
            const timer = setTimeout(wake, timeout * 1000);
            waiters.add(wake);
          });
        }
        return c.json(ok(updates.slice(0, Number(params.limit ?? 100))));
      }
      case 'sendMessage':
      case 'sendDocument': {
        const message: SentMessage = {
          method,
          chatId,
          messageId: nextSent++,
          text: String(params.text ?? params.caption ?? ''),
          ...(params.parse_mode !== undefined && { parseMode: String(params.parse_mode) }),
          ...(document && { document }),
        };
        sent.push(message);
        notify();
        return c.json(
          ok({
            message_id: message.messageId,
            date: Math.floor(Date.now() / 1000),
            chat: chat(chatId),
            text: message.text,
          }),
        );
      }
      case 'editMessageText': {
        const messageId = Number(params.message_id);
        const original = sent.find((message) => message.messageId === messageId && message.chatId === chatId);
        if (!original)
          return c.json({ ok: false, error_code: 400, description: 'Bad Request: message to edit not found' }, 400);
        const edited: SentMessage = {
          method,
          chatId,
          messageId,
          text: String(params.text),
          ...(params.parse_mode !== undefined && { parseMode: String(params.parse_mode) }),
        };
        sent.push(edited);
        notify();
        return c.json(
          ok({ message_id: messageId, date: Math.floor(Date.now() / 1000), chat: chat(chatId), text: edited.text }),
        );
      }
      case 'getFile': {
        const file = files.get(String(params.file_id));
        if (!file) return c.json({ ok: false, error_code: 400, description: 'Bad Request: invalid file_id' }, 400);
        return c.json(
          ok({
            file_id: params.file_id,
            file_unique_id: `u${params.file_id}`,
            file_size: file.content.length,
            file_path: file.path,
          }),
        );
      }
      default:
        return c.json({ ok: false, error_code: 404, description: `Not Found: method ${method}` }, 404);
    }
  });

  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;

  return {
    apiRoot: `http://127.0.0.1:${port}`,
    token,
    sent,
    calls,
    sendText(userId, text, options = {}) {
      const id = nextMessage++;
      push({
        message_id: id,
        date: Math.floor(Date.now() / 1000),
        from: user(userId),
        chat: chat(userId),
        text,
        ...(text.startsWith('/') && {
          entities: [{ type: 'bot_command', offset: 0, length: text.split(' ')[0]?.length ?? 1 }],
        }),
        ...(options.forwardedFrom && {
          forward_origin: {
            type: 'hidden_user',
            sender_user_name: options.forwardedFrom,
            date: Math.floor(Date.now() / 1000) - 3600,
          },
        }),
      });
      return id;
    },
    sendDocument(userId, name, content, mimeType = 'text/markdown') {
      const id = nextMessage++;
      const fileId = `file-${id}`;
      files.set(fileId, { path: `documents/${name}`, content });
      push({
        message_id: id,
        date: Math.floor(Date.now() / 1000),
        from: user(userId),
        chat: chat(userId),
        document: {
          file_id: fileId,
          file_unique_id: `u${fileId}`,
          file_name: name,
          mime_type: mimeType,
          file_size: content.length,
        },
      });
      return id;
    },
    pending: () => updates.length,
    textUpdate(userId, text) {
      return {
        update_id: nextUpdate++,
        message: {
          message_id: nextMessage++,
          date: Math.floor(Date.now() / 1000),
          from: user(userId),
          chat: chat(userId),
          text,
          ...(text.startsWith('/') && {
            entities: [{ type: 'bot_command', offset: 0, length: text.split(' ')[0]?.length ?? 1 }],
          }),
        },
      };
    },
    waitForSent(predicate, { after = 0, timeoutMs = 15_000 } = {}) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = sent.slice(after).find(predicate);
          if (!found) return false;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(found);
          return true;
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(
              `no sent message matched within ${timeoutMs} ms; sent: ${JSON.stringify(sent.map((m) => m.text))}`,
            ),
          );
        }, timeoutMs);
        if (!check()) waiters.add(check);
      });
    },
    close: () =>
      new Promise((resolve) => {
        notify();
        server.close(() => resolve());
        if ('closeAllConnections' in server) server.closeAllConnections();
      }),
  };
}
