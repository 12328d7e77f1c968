/**
 * The personal-store fixture (`eval/personal/*.json`, written for Engram): small stores of one
 * person each — facts, preferences, dated events, plans, conversation turns in sessions, sections
 * of their own notes — and questions about them, some of which the store cannot answer.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

export const QUESTION_CATEGORIES = ['direct', 'paraphrase', 'temporal', 'people', 'unanswerable'] as const;
export type QuestionCategory = (typeof QUESTION_CATEGORIES)[number];

const memorySchema = z.strictObject({
  id: z.string().min(1),
  kind: z.enum(['fact', 'preference', 'event', 'plan', 'conversation', 'note']),
  content: z.string().min(1),
  eventAt: z.string().optional(),
  createdAt: z.string(),
  sessionId: z.string().optional(),
  category: z.string().optional(),
  tags: z.array(z.string()).optional(),
  note: z.strictObject({ title: z.string().min(1), heading: z.string().min(1) }).optional(),
});

const questionSchema = z.strictObject({
  id: z.string().min(1),
  category: z.enum(QUESTION_CATEGORIES),
  question: z.string().min(1),
  answers: z.array(z.string()),
});

const storeSchema = z
  .strictObject({
    user: z.string().regex(/^[a-z0-9-]+$/),
    now: z.string(),
    description: z.string(),
    memories: z.array(memorySchema).min(1),
    questions: z.array(questionSchema).min(1),
  })
  .superRefine((store, ctx) => {
    const ids = new Set(store.memories.map((memory) => memory.id));
    for (const question of store.questions) {
      const unanswerable = question.category === 'unanswerable';
      if (unanswerable !== (question.answers.length === 0))
        ctx.addIssue({ code: 'custom', message: `${question.id}: answers do not fit its category` });
      for (const id of question.answers)
        if (!ids.has(id)) ctx.addIssue({ code: 'custom', message: `${question.id}: no memory ${id}` });
    }
  });

export type PersonalMemory = z.output<typeof memorySchema>;
export type PersonalQuestion = z.output<typeof questionSchema>;
export type PersonalStore = z.output<typeof storeSchema>;

/** The fixture directory in the repository (from `dist/bench` or `bench`). */
export function personalDir(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  const fromDist = resolve(here, '../../eval/personal');
  const fromSource = resolve(here, '../eval/personal');
  try {
    readdirSync(fromDist);
    return fromDist;
  } catch {
    return fromSource;
  }
}

/** Every store of the fixture, checked, by user name. */
export function loadPersonalStores(dir = personalDir()): PersonalStore[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((name) => {
      const parsed = storeSchema.safeParse(JSON.parse(readFileSync(join(dir, name), 'utf8')));
      if (!parsed.success) throw new Error(`${name}: ${z.prettifyError(parsed.error)}`);
      return parsed.data;
    });
}
