/**
 * Tokenisation for the Universal Sentence Encoder over the model package's `vocab.json`, giving
 * exactly the token ids `@energetic-ai/embeddings`' `EmbeddingsModel.embed` feeds TF.js, in linear
 * time. Output is the dense, padded layout the ONNX graph
 * takes: `input_ids` and `attention_mask`, both int64 [batch, seq].
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EmbeddingsModelData } from '@energetic-ai/embeddings';
import { useModelDir } from './use-tfjs-weights.js';

/** `[piece, score]` pairs; the index is the token id. */
export type UseVocabulary = EmbeddingsModelData['vocabulary'];

export interface UseTokenizer {
  /**
   * Token ids of one text as TF.js would see them: blank text is replaced by a single space (as
   * the TF.js embedder does, since the model cannot embed zero tokens), and ids beyond `maxLength`
   * are dropped (the graph's ClipToMaxLength keeps positions < maxLength).
   */
  encode(text: string): number[];
  readonly maxLength: number;
}

export interface PaddedBatch {
  readonly batch: number;
  readonly seqLength: number;
  /** int64 [batch, seqLength], padded with 0. */
  readonly inputIds: BigInt64Array;
  /** int64 [batch, seqLength]: 1 for tokens, 0 for padding. */
  readonly attentionMask: BigInt64Array;
}

export async function loadUseVocabulary(dir: string = useModelDir()): Promise<UseVocabulary> {
  const vocabulary = JSON.parse(await readFile(join(dir, 'vocab.json'), 'utf8')) as unknown;
  if (!Array.isArray(vocabulary) || vocabulary.length === 0) throw new Error('vocab.json is not a vocabulary list');
  return vocabulary as UseVocabulary;
}

/** The TF.js embedder's mapping for blank input (see `use/worker.ts`). */
export function useInputText(text: string): string {
  return text.trim() === '' ? ' ' : text;
}

/** A trie node: children by code point; `index` ≥ 0 where a piece ends. */
interface TrieNode {
  readonly children: Map<string, TrieNode>;
  index: number;
  score: number;
}

/** Ids below this are reserved symbols (unknown, <s>, </s>, …), never produced by matching. */
const RESERVED_SYMBOLS = 6;
const UNKNOWN_ID = 0;
const SEPARATOR = '\u2581';

/**
 * The Universal Sentence Encoder's tokenizer: SentencePiece-style best segmentation (highest
 * total log-probability) over the package's vocabulary. It reproduces `@energetic-ai/embeddings`'
 * Tokenizer exactly — same NFKC + "▁" preprocessing, same tie-breaking (a later-starting piece
 * wins ties; a running best of exactly 0 counts as unset), unknown characters as id 0 with score
 * 0, runs of unknowns merged, backtracking by each piece's UTF-16 length — so the ids are those
 * `EmbeddingsModel.embed` feeds TF.js (a test compares them on thousands of texts). Unlike the
 * package's, it is linear in the text length: the package copies the rest of the text at every
 * position (`symbols.slice(i)`), which made a 200-word text cost ~8 ms and a 32k-character one
 * seconds.
 */
export function createUseTokenizer(vocabulary: UseVocabulary, maxLength: number): UseTokenizer {
  const root: TrieNode = { children: new Map(), index: -1, score: 0 };
  for (let id = RESERVED_SYMBOLS; id < vocabulary.length; id++) {
    const [piece, score] = vocabulary[id] as [string, number];
    let node = root;
    for (const symbol of piece) {
      let child = node.children.get(symbol);
      if (!child) {
        child = { children: new Map(), index: -1, score: 0 };
        node.children.set(symbol, child);
      }
      node = child;
    }
    if (node !== root) {
      node.index = id;
      node.score = score;
    }
  }
  const pieceLength = Int32Array.from(vocabulary, ([piece]) => piece.length);

  const encodeAll = (text: string): number[] => {
    const normalized = text.normalize('NFKC');
    const symbols = Array.from(normalized.length > 0 ? SEPARATOR + normalized.replace(/ /g, SEPARATOR) : '');
    const n = symbols.length;
    // best[i]: score of the best segmentation of symbols[0, i); words[i]: the id of its last piece.
    const best = new Float64Array(n + 1);
    const words = new Int32Array(n + 1);
    const offer = (end: number, score: number, id: number) => {
      if (best[end] === 0 || score >= (best[end] as number)) {
        best[end] = score;
        words[end] = id;
      }
    };
    for (let start = 0; start < n; start++) {
      const before = best[start] as number;
      let matched = false;
      let node = root.children.get(symbols[start] as string);
      for (let end = start + 1; node; end++) {
        if (node.index >= 0) {
          matched = true;
          offer(end, node.score + before, node.index);
        }
        node = end < n ? node.children.get(symbols[end] as string) : undefined;
      }
      if (!matched) offer(start + 1, before, UNKNOWN_ID);
    }
    const reversed: number[] = [];
    for (let at = n; at > 0; at -= pieceLength[words[at] as number] as number) reversed.push(words[at] as number);
    const ids: number[] = [];
    for (let i = reversed.length - 1; i >= 0; i--) {
      const id = reversed[i] as number;
      // A run of unknowns is one id 0 (the package merges while still reversed: same result).
      if (!(id === UNKNOWN_ID && i < reversed.length - 1 && reversed[i + 1] === UNKNOWN_ID)) ids.push(id);
    }
    return ids;
  };

  return {
    maxLength,
    encode(text: string): number[] {
      const ids = encodeAll(useInputText(text));
      return ids.length > maxLength ? ids.slice(0, maxLength) : ids;
    },
  };
}

/** Pads token id lists to the longest one (at least 1 column) into int64 ids and mask. */
export function padBatch(encodings: readonly (readonly number[])[]): PaddedBatch {
  const batch = encodings.length;
  let seqLength = 1;
  for (const ids of encodings) seqLength = Math.max(seqLength, ids.length);
  const inputIds = new BigInt64Array(batch * seqLength);
  const attentionMask = new BigInt64Array(batch * seqLength);
  encodings.forEach((ids, row) => {
    const base = row * seqLength;
    for (let i = 0; i < ids.length; i++) {
      inputIds[base + i] = BigInt(ids[i] as number);
      attentionMask[base + i] = 1n;
    }
  });
  return { batch, seqLength, inputIds, attentionMask };
}
