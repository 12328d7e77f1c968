import { describe, expect, it } from 'vitest';
import { keywordOf, ownerOf, PEER_DIM, VectorLookup, workload } from '../../bench/peers/workload.js';

describe('bench:peers workload: every system gets the same inputs', () => {
  it('is the same on every run, with one unit vector of the workload dimension per memory and question', () => {
    const a = workload(300, 10, 40);
    const b = workload(300, 10, 40);
    expect(b.memories).toEqual(a.memories);
    expect(b.queries).toEqual(a.queries);
    for (const text of [...a.memories, ...a.queries.map((q) => q.text)]) {
      const vector = a.vectors.get(text);
      expect(vector).toHaveLength(PEER_DIM);
      expect(Math.hypot(...(vector as number[]))).toBeCloseTo(1, 6);
      expect(b.vectors.get(text)).toEqual(vector);
    }
  });

  it('spreads memories over the users in turn and sends questions only to those users', () => {
    const work = workload(250, 10, 60);
    const perUser = new Map<string, number>();
    for (const i of work.memories.keys()) perUser.set(ownerOf(work, i), (perUser.get(ownerOf(work, i)) ?? 0) + 1);
    expect([...perUser.values()]).toEqual(Array(10).fill(25));
    expect(work.queries.every((q) => work.users.includes(q.user))).toBe(true);
  });

  it('answers a text it was given from the workload and counts the ones it was not', () => {
    const work = workload(50, 5, 5);
    const lookup = new VectorLookup(work.vectors);
    const text = work.memories[3] as string;
    expect(lookup.vectorOf(text)).toBe(work.vectors.get(text));
    expect(lookup.misses).toBe(0);
    const other = lookup.vectorOf('an entity the system found itself');
    expect(other).toHaveLength(PEER_DIM);
    expect(lookup.misses).toBe(1);
  });

  it('embeds through Engram’s embedder interface and a LangChain-shaped one with the same vectors', async () => {
    const work = workload(20, 2, 2);
    const lookup = new VectorLookup(work.vectors);
    const text = work.memories[0] as string;
    const [fromEngram] = await lookup.asEmbedder().embed([text]);
    const fromLangchain = await lookup.asLangchain().embedQuery(text);
    expect(Array.from(fromEngram as Float32Array)).toEqual(Array.from(Float32Array.from(fromLangchain)));
    expect(await lookup.asLangchain().embedDocuments([text, text])).toEqual([fromLangchain, fromLangchain]);
  });
});

describe('bench:peers keyword for the reference server (one substring)', () => {
  it('takes the longest word of the question, without a possessive', () => {
    expect(keywordOf("When is Quentin's birthday?")).toBe('Quentin');
    expect(keywordOf('Which tools does the onboarding flow use?')).toBe('onboarding');
  });
});
