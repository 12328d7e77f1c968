/**
 * Tokenisation for the Universal Sentence Encoder, done by `@energetic-ai/embeddings`' own
 * SentencePiece-style Tokenizer over the model package's `vocab.json`, so token ids are exactly
 * those `EmbeddingsModel.embed` feeds TF.js. Output is the dense, padded layout the ONNX graph
 * takes: `input_ids` and `attention_mask`, both int64 [batch, seq].
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EmbeddingsModel, type EmbeddingsModelData } from '@energetic-ai/embeddings';
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

/**
 * Builds the package's Tokenizer. It is not exported on its own, but `EmbeddingsModel`'s
 * constructor builds exactly the instance `embed()` uses and touches nothing else, so one is
 * made without a TF.js model to borrow it.
 */
export function createUseTokenizer(vocabulary: UseVocabulary, maxLength: number): UseTokenizer {
  const { tokenizer } = new EmbeddingsModel({
    vocabulary,
    model: undefined as unknown as EmbeddingsModelData['model'],
  });
  return {
    maxLength,
    encode(text: string): number[] {
      const ids = tokenizer.encode(useInputText(text));
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
