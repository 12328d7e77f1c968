import { z } from 'zod';

/** The shapes the knowledge base answers with, shared by the REST routes and the MCP tools. */
export const noteSummarySchema = z.object({
  path: z.string(),
  title: z.string(),
  category: z.string(),
  tags: z.array(z.string()),
  createdAt: z.string(),
  source: z.string(),
  owner: z.string(),
  sourceId: z.string().nullable(),
});

export const noteSchema = noteSummarySchema.extend({ body: z.string() });

export const kbHitSchema = z.object({
  path: z.string(),
  title: z.string(),
  heading: z.string(),
  text: z.string(),
  score: z.number(),
  memoryId: z.string(),
});
