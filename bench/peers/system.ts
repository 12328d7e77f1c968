/**
 * What `bench:peers` drives: one memory system behind the two operations every peer has — store
 * one text for a user, search a user's memories — and how it is measured (single adds one at a
 * time, then questions one at a time, all timed from the caller's side of the call).
 */
import { diskBytes } from '../context.js';
import { progressBar } from '../report.js';
import { type Summary, summarize } from '../stats.js';
import { ownerOf, type Workload } from './workload.js';

export interface PeerSystem {
  /** Row label, e.g. "Engram 0.9.0 (library)". */
  readonly name: string;
  /** How it is reached and where it keeps its data, for the report's notes. */
  readonly how: string;
  /** Users it keeps apart: all of the workload's, or 1 (the MCP servers are one user each). */
  readonly users: number;
  /** How it is reached: rows are compared with Engram's row reached the same way. */
  readonly via: 'library' | 'mcp';
  /** Engram itself: the row the others reached the same way are compared with. */
  readonly baseline: boolean;
  add(user: string, text: string, index: number): Promise<void>;
  /** Returns how many results came back. */
  search(user: string, question: string): Promise<number>;
  /** The directory it keeps its data in (measured after the load). */
  readonly dataDir: string;
  close(): Promise<void>;
}

export interface PeerRow {
  system: string;
  via: PeerSystem['via'];
  baseline: boolean;
  memories: number;
  users: number;
  addsPerSecond: number;
  search: Summary;
  meanResults: number;
  diskBytes: number;
}

/** Questions per row that warm caches and statements up and are not counted. */
const WARM_UP = 5;

export async function measure(system: PeerSystem, work: Workload): Promise<PeerRow> {
  const userOf = (i: number) => (system.users === 1 ? 'bench' : ownerOf(work, i));
  const adds = progressBar(`${system.name} adds`, work.memories.length);
  let addMs = 0;
  for (const [i, text] of work.memories.entries()) {
    const started = performance.now();
    await system.add(userOf(i), text, i);
    addMs += performance.now() - started;
    adds.increment();
  }
  adds.stop();

  const searches = progressBar(`${system.name} search`, work.queries.length + WARM_UP);
  const latencies: number[] = [];
  let results = 0;
  for (const [i, query] of [...work.queries.slice(0, WARM_UP), ...work.queries].entries()) {
    const user = system.users === 1 ? 'bench' : query.user;
    const started = performance.now();
    const found = await system.search(user, query.text);
    const ms = performance.now() - started;
    if (i >= WARM_UP) {
      latencies.push(ms);
      results += found;
    }
    searches.increment();
  }
  searches.stop();
  return {
    system: system.name,
    via: system.via,
    baseline: system.baseline,
    memories: work.memories.length,
    users: system.users,
    addsPerSecond: work.memories.length / (addMs / 1000),
    search: summarize(latencies),
    meanResults: results / latencies.length,
    diskBytes: await diskBytes(system.dataDir),
  };
}
