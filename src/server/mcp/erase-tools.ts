import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { MemoryService } from '../../core/memory-service.js';
import { LIMITS } from '../../core/schemas.js';
import type { Caller } from '../request-context.js';
import { formatMemory, memories, preview } from './format.js';
import { ok, READ_ONLY, type RunTool, writes } from './results.js';
import { cursorArg, idArg, limitArg, outputs } from './tool-schemas.js';

/** Taking memories back: delete (undoable), the deleted ones, restore, and forget for good. */
export const ERASE_TOOL_NAMES = ['delete_memory', 'list_deleted_memories', 'restore_memory', 'forget_memory'] as const;

export function registerEraseTools(server: McpServer, service: MemoryService, caller: Caller, run: RunTool): void {
  const { userId, actor } = caller;

  server.registerTool(
    'delete_memory',
    {
      title: 'Delete a memory',
      description: 'Delete one memory by id when it is wrong or no longer wanted. Its change history is kept.',
      inputSchema: { id: idArg },
      outputSchema: outputs.delete,
      annotations: writes('Delete a memory', { destructive: true, idempotent: false }),
    },
    ({ id }) =>
      run(async () => {
        const deleted = await service.delete(userId, id, actor);
        return ok(`Deleted memory ${deleted.id} ("${preview(deleted.content)}"). Its history is kept.`, { deleted });
      }),
  );

  server.registerTool(
    'restore_memory',
    {
      title: 'Restore a deleted memory',
      description:
        'Undo delete_memory: bring a deleted memory back by id, as it was just before its deletion (same id, ' +
        'content, category, tags and metadata). Refused while another memory holds the same content.',
      inputSchema: { id: idArg },
      outputSchema: outputs.restore,
      annotations: writes('Restore a deleted memory', { destructive: false, idempotent: false }),
    },
    ({ id }) =>
      run(async () => {
        const memory = await service.restore(userId, id, actor);
        return ok(`Restored memory ${memory.id}:\n\n${formatMemory(memory, 0)}`, { memory });
      }),
  );

  server.registerTool(
    'forget_memory',
    {
      title: 'Forget a memory for good',
      description:
        'Erase one memory by id when the user asks you to forget it: the memory and its whole change history ' +
        'are removed, so it cannot be restored or seen again. Works on a deleted memory too. Use delete_memory ' +
        'instead when it might be wanted back.',
      inputSchema: { id: idArg },
      outputSchema: outputs.forget,
      annotations: writes('Forget a memory for good', { destructive: true, idempotent: false }),
    },
    ({ id }) =>
      run(async () => {
        await service.forget(userId, id);
        return ok(`Forgot memory ${id}: it and its history are erased.`, { forgotten: id });
      }),
  );
  server.registerTool(
    'list_deleted_memories',
    {
      title: 'List deleted memories',
      description:
        'Page through deleted memories that restore_memory can bring back, most recently deleted first, with when ' +
        'and by whom each was deleted. Use it to find the id when the user wants something deleted back, or to ' +
        'find a deleted memory to forget for good. When more remain, pass the returned cursor back.',
      inputSchema: { limit: limitArg(20, LIMITS.searchLimit), cursor: cursorArg },
      outputSchema: outputs.deleted,
      annotations: { title: 'List deleted memories', ...READ_ONLY },
    },
    ({ limit, cursor }) =>
      run(async () => {
        const page = await service.deleted(userId, { limit, ...(cursor !== undefined && { cursor }) });
        const body =
          page.items.length === 0
            ? cursor
              ? 'No more deleted memories.'
              : 'No deleted memories: nothing to restore.'
            : `${memories(page.items.length)} deleted, most recently deleted first:\n\n${page.items
                .map((item, i) => formatMemory(item.memory, i, `deleted ${item.deletedAt} by ${item.deletedBy}`))
                .join('\n\n')}`;
        const more = page.nextCursor
          ? `\n\nMore remain: call list_deleted_memories with cursor "${page.nextCursor}".`
          : '';
        return ok(body + more, { count: page.items.length, items: page.items, nextCursor: page.nextCursor });
      }),
  );
}
