/**
 * The one generated workload every system in `bench:peers` gets: memory texts spread over users,
 * questions to random users, and a 384-d vector for every text, computed once. The systems do not
 * embed anything: each reaches the same vectors through its own embedder interface (a lookup).
 */
import type { Embedder } from '../../src/embed/embedder.js';
import { clusteredVectors, memoryTexts, prng, queryTexts } from '../gen.js';

/** The vector length of the workload (MiniLM-sized, as the comparison in the issue used). */
export const PEER_DIM = 384;

export interface Workload {
  /** Memory `i` belongs to `users[i % users.length]`. */
  memories: readonly string[];
  users: readonly string[];
  /** Questions and the user each one goes to. */
  queries: readonly { user: string; text: string }[];
  /** The vector of every memory and question text. */
  vectors: ReadonlyMap<string, number[]>;
}

export function workload(size: number, userCount: number, queryCount: number): Workload {
  const memories = memoryTexts(size, 7_001);
  const users = Array.from({ length: userCount }, (_, i) => `user-${String(i).padStart(3, '0')}`);
  const pickUser = prng(7_002);
  const queries = queryTexts(queryCount, 7_003).map((text) => ({
    user: users[Math.floor(pickUser() * users.length)] as string,
    text,
  }));
  const nextVector = clusteredVectors(7_004, PEER_DIM);
  const vectors = new Map<string, number[]>();
  for (const text of [...memories, ...queries.map((q) => q.text)]) {
    if (!vectors.has(text)) vectors.set(text, nextVector());
  }
  return { memories, users, queries, vectors };
}

export const ownerOf = (work: Workload, index: number): string => work.users[index % work.users.length] as string;

/**
 * Looks texts up in the workload's vectors. A text the workload does not have (mem0 embeds the
 * entities it finds in a text or query) gets a fixed vector and is counted, so the report can say
 * how much extra embedding a system asked for.
 */
export class VectorLookup {
  misses = 0;
  private readonly fallback: number[];

  constructor(private readonly vectors: ReadonlyMap<string, number[]>) {
    this.fallback = clusteredVectors(7_005, PEER_DIM)();
  }

  vectorOf(text: string): number[] {
    const vector = this.vectors.get(text);
    if (vector) return vector;
    this.misses++;
    return this.fallback;
  }

  /** As Engram's `Embedder` (the swap point every Engram embedder implements). */
  asEmbedder(): Embedder {
    return {
      model: `peers-lookup-${PEER_DIM}`,
      dimension: PEER_DIM,
      init: async () => undefined,
      close: async () => undefined,
      embed: async (texts) => texts.map((text) => Float32Array.from(this.vectorOf(text))),
    };
  }

  /** As a LangChain `Embeddings` instance (mem0's `langchain` embedder provider takes one). */
  asLangchain(): { embedQuery(text: string): Promise<number[]>; embedDocuments(texts: string[]): Promise<number[][]> } {
    return {
      embedQuery: async (text) => this.vectorOf(text),
      embedDocuments: async (texts) => texts.map((text) => this.vectorOf(text)),
    };
  }
}

/**
 * What to send the reference MCP memory server for a question: its `search_nodes` matches the
 * query as one substring of names, types and observations, so a whole question finds nothing. It
 * gets the question's longest word, as an agent using it would search.
 */
export function keywordOf(question: string): string {
  const words = question.match(/[\p{L}\p{N}'-]+/gu) ?? [question];
  return words.reduce((best, word) => (word.length > best.length ? word : best), '').replace(/'s$/, '');
}
