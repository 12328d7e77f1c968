import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testConfig } from '../../src/config.js';
import type { MemoryService } from '../../src/core/memory-service.js';
import { openService } from '../../src/runtime.js';
import { type FakeLlm, startFakeLlm } from './fake-llm.js';

export interface LlmService {
  llm: FakeLlm;
  service: MemoryService;
  close(): Promise<void>;
}

/** A MemoryService on a temporary SQLite store with the real embedder, whose LLM is the scripted server (no retries). */
export async function openLlmService(): Promise<LlmService> {
  const llm = await startFakeLlm();
  const dataDir = await mkdtemp(join(tmpdir(), 'engram-llm-'));
  const service = await openService(
    testConfig({
      dataDir,
      logLevel: 'silent',
      llm: { provider: 'openai', baseUrl: llm.baseUrl, model: 'scripted', maxRetries: 0, timeoutMs: 5_000 },
    }),
  );
  return {
    llm,
    service,
    async close() {
      await service.close();
      await llm.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
