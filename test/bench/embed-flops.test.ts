import { describe, expect, it } from 'vitest';
import { paddingOverhead, useFlops } from '../../bench/embed-flops.js';

describe('useFlops', () => {
  // One layer 2 → 4 wide (so it has the residual projection), 1 head of 2, FFN 3, output 5; 3 tokens.
  const tiny = {
    layers: [{ inputDim: 2, modelDim: 4, heads: 1, headDim: 2, queryScale: 1, ffnDim: 3, adjustResidual: true }],
    outputDim: 5,
  };

  it('counts every matmul of a tiny layer, 2 FLOPs per multiply-add', () => {
    // Multiply-adds by hand, 3 tokens:
    //   qkv   [3×2]·[2×6]             = 36
    //   q·kᵀ  [3×2]·[2×3]             = 18
    //   w·v   [3×3]·[3×2]             = 18
    //   out   [3×2]·[2×4]             = 24
    //   resid [3×2]·[2×4]             = 24
    //   FFN   [3×4]·[4×3] + [3×3]·[3×4] = 36 + 36 = 72
    //   head  [1×4]·[4×5]             = 20
    // projections 36+24+24+72 = 156, attention 36, head 20: 212 multiply-adds.
    expect(useFlops(tiny, 3)).toEqual({ projections: 312, attention: 72, head: 40, total: 424 });
  });

  it('grows linearly in the projections and quadratically in attention', () => {
    const one = useFlops(tiny, 3);
    const two = useFlops(tiny, 6);
    expect(two.projections).toBe(2 * one.projections);
    expect(two.attention).toBe(4 * one.attention);
    expect(two.head).toBe(one.head);
  });

  it('gives about 1.24 GFLOP for a full-length (128-token) USE lite text', () => {
    const use = {
      outputDim: 512,
      layers: [
        { inputDim: 256, modelDim: 512, heads: 4, headDim: 64, queryScale: 0.125, ffnDim: 1536, adjustResidual: true },
        {
          inputDim: 512,
          modelDim: 512,
          heads: 4,
          headDim: 128,
          queryScale: 0.088,
          ffnDim: 1536,
          adjustResidual: false,
        },
      ],
    };
    // Per token: layer 0 256·768 + 256·512 + 256·512 + 2·512·1536 = 2,031,616 multiply-adds,
    // layer 1 512·1536 + 512·512 + 2·512·1536 = 2,621,440; together 4,653,056.
    // Attention per token²: 2·4·64 + 2·4·128 = 1,536. Head: 512·512 = 262,144.
    // 128 tokens: 4,653,056·128 + 1,536·128² + 262,144 = 595,591,168 + 25,165,824 + 262,144 = 621,019,136.
    expect(useFlops(use, 128).total).toBe(2 * 621_019_136);
  });
});

describe('paddingOverhead', () => {
  it('pads each sorted run to its longest text', () => {
    // Calls of 4 texts run 2 at a time, FLOPs = tokens: call [3, 1, 4, 2] sorts to runs [1, 2] and
    // [3, 4], padded to 2·2 + 2·4 = 12 against 10 useful: +20 %. A trailing partial call is left out.
    expect(paddingOverhead([3, 1, 4, 2, 9], 4, 2, (t) => t)).toBeCloseTo(0.2);
    expect(paddingOverhead([5, 5, 5, 5], 4, 2, (t) => t)).toBe(0);
  });
});
