import { z } from 'zod';
import type { Actor } from '../core/history.js';
import type { MemoryService } from '../core/memory-service.js';
import { type ExtractInput, extractSchema, memorySourceSchema, parseInput } from '../core/schemas.js';
import type { JsonValue } from '../core/types.js';
import { toJson } from './add-job.js';
import type { JobHandler } from './handler.js';

const payloadSchema = z.object({
  input: extractSchema,
  actor: z.object({ name: z.string(), source: memorySourceSchema }),
});

/**
 * `extract`: runs `MemoryService.extract` as `POST /v1/memories/extract` does; the result is that
 * response body (`{decisions, problem}`). An unusable reply from the model (`llm_output_invalid`)
 * or an unreachable LLM is retried. A retry after the write committed asks the model again: facts
 * it finds again are then exact duplicates (noop), or the model matches them to what was stored.
 */
export function extractJob(service: MemoryService): JobHandler<'extract', ExtractInput, JsonValue> {
  return {
    kind: 'extract',
    prepare(userId: string, input: ExtractInput, actor: Actor): JsonValue {
      service.validateExtract(userId, input);
      return toJson({ input, actor: { name: actor.name, source: actor.source } });
    },
    async run(payload, { job }) {
      const { input, actor } = parseInput(payloadSchema, payload);
      return toJson(await service.extract(job.userId, input, actor));
    },
  };
}
