import { z } from 'zod';
import type { Actor } from '../core/history.js';
import type { AddResult, MemoryService } from '../core/memory-service.js';
import { type AddMemoryInput, addMemorySchema, memorySourceSchema, parseInput } from '../core/schemas.js';
import type { JsonValue } from '../core/types.js';
import type { JobHandler } from './handler.js';

/** An asynchronous add: the batch as the synchronous add takes it; `single` when it was one memory, not `{memories}`. */
export interface AddJobInput {
  memories: AddMemoryInput[];
  single: boolean;
}

const payloadSchema = z.object({
  memories: z.array(addMemorySchema).min(1),
  single: z.boolean(),
  actor: z.object({ name: z.string(), source: memorySourceSchema }),
});

/** The JSON a value turns into when stored (undefined fields dropped), typed as JSON. */
export function toJson(value: unknown): JsonValue {
  return JSON.parse(JSON.stringify(value)) as JsonValue;
}

/**
 * `add`: stores a batch through `MemoryService.addMany`, as `POST /v1/memories` does; the result is
 * the synchronous response body (`{memory, duplicate}` for one memory, `{results}` for a batch).
 * Safe to repeat: a retry after the insert committed finds every item by its content hash and
 * stores nothing again (its result then reports them as duplicates).
 */
export function addJob(service: MemoryService): JobHandler<'add', AddJobInput, JsonValue> {
  return {
    kind: 'add',
    prepare(userId: string, input: AddJobInput, actor: Actor): JsonValue {
      const memories = service.validateAdd(userId, input.memories);
      return toJson({ memories, single: input.single, actor: { name: actor.name, source: actor.source } });
    },
    async run(payload, { job }) {
      const { memories, single, actor } = parseInput(payloadSchema, payload);
      const results: AddResult[] = await service.addMany(job.userId, memories, actor);
      return toJson(single ? results[0] : { results });
    },
  };
}
