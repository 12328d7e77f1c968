/**
 * The two systems used as libraries, in this process: Engram's MemoryService on its embedded
 * store (SQLite), and mem0's open-source TypeScript `Memory` on its default store (`memory`: a
 * SQLite file). Both get the workload's vectors through their embedder interface, and neither
 * calls an LLM (mem0 `infer: false`; Engram has none configured).
 */
import { join } from 'node:path';
import { storeOptions } from '../../src/backends.js';
import { MemoryService } from '../../src/core/memory-service.js';
import { maintenanceOptions, searchOptions } from '../../src/runtime.js';
import { createStore } from '../../src/stores/registry.js';
import { ACTOR, configFor } from '../context.js';
import type { Scratch } from './install.js';
import type { PeerSystem } from './system.js';
import { PEER_DIM, type VectorLookup } from './workload.js';

export async function engramLibrary(
  dataDir: string,
  lookup: VectorLookup,
  users: number,
  version: string,
): Promise<PeerSystem> {
  // Wired as `openService` wires a server's (the default settings: near-duplicate checks on
  // add, access tracking), with the workload's vectors as its embedder.
  const config = configFor(dataDir);
  const service = new MemoryService({
    store: createStore('sqlite', storeOptions(config, 'sqlite')),
    embedder: lookup.asEmbedder(),
    search: searchOptions(config),
    maintenance: maintenanceOptions(config),
  });
  await service.init();
  return {
    name: `Engram ${version} (library)`,
    how: 'MemoryService on SQLite in this process with the default settings; add() of one memory, search() hybrid (the default), limit 10',
    users,
    via: 'library',
    baseline: true,
    dataDir,
    add: async (user, content) => {
      await service.add(user, { content }, ACTOR);
    },
    search: async (user, query) => (await service.search(user, { query, limit: 10 })).results.length,
    close: () => service.close(),
  };
}

/** The part of mem0's `Memory` (mem0ai/oss) the benchmark uses. */
interface Mem0Memory {
  add(text: string, options: { userId: string; infer: boolean }): Promise<unknown>;
  search(query: string, options: { filters: { user_id: string }; topK: number }): Promise<{ results: unknown[] }>;
}
type Mem0Module = { Memory: new (config: Record<string, unknown>) => Mem0Memory };

export async function mem0Library(
  scratch: Scratch,
  dataDir: string,
  lookup: VectorLookup,
  users: number,
): Promise<PeerSystem> {
  // mem0 reads these when its module loads: no telemetry calls (nothing outside resolves here),
  // and its home (telemetry id, notices) inside the run's directory instead of ~/.mem0.
  process.env.MEM0_TELEMETRY = 'false';
  process.env.MEM0_DIR = join(dataDir, 'home');
  const { Memory } = await scratch.load<Mem0Module>('mem0ai', 'dist/oss/index.mjs');
  const memory = new Memory({
    embedder: { provider: 'langchain', config: { model: lookup.asLangchain() } },
    vectorStore: {
      provider: 'memory',
      config: { collectionName: 'bench', dimension: PEER_DIM, dbPath: join(dataDir, 'vector_store.db') },
    },
    // Constructed but never called: every add has infer: false.
    llm: { provider: 'openai', config: { apiKey: 'unused' } },
    disableHistory: true,
  });
  return {
    name: `mem0 ${await scratch.version('mem0ai')} (library)`,
    how: "mem0ai/oss Memory, vector store 'memory' (SQLite file), history off; add() with infer: false, search() topK 10",
    users,
    via: 'library',
    baseline: false,
    dataDir,
    add: async (userId, text) => {
      await memory.add(text, { userId, infer: false });
    },
    search: async (user, query) =>
      (await memory.search(query, { filters: { user_id: user }, topK: 10 })).results.length,
    close: async () => undefined,
  };
}
