import { z } from 'zod';

export const postgresConfigSchema = z.object({
  /** `postgres://user:password@host:port/database`; the role needs CREATE on the schema. */
  url: z.string().min(1),
  /** Schema holding Engram's tables (created if missing); pgvector must be installed in the database. */
  schema: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a lower-case SQL identifier')
    .default('engram'),
  /** Most connections this process holds. */
  /** At least 2: a scan (export, reindex, migrate-store) holds one connection while the caller uses another. */
  poolMax: z.number().int().min(2).max(1_000).default(10),
  /** Statements running longer are cancelled (the request fails with `unavailable`). */
  statementTimeoutMs: z.number().int().min(100).max(3_600_000).default(15_000),
  /**
   * Approximate nearest-neighbour search through an HNSW index (cosine) on the vectors; false:
   * exact scans only (the index is still kept, so switching back needs no rebuild).
   */
  hnsw: z.boolean().default(true),
  /** Candidates an HNSW search keeps (pgvector's `hnsw.ef_search`): higher finds more true neighbours, slower. */
  efSearch: z.number().int().min(10).max(1_000).default(100),
});

export type PostgresConfig = z.input<typeof postgresConfigSchema>;
