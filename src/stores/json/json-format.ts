import { z } from 'zod';
import { EngramError } from '../../core/errors.js';
import { historyEntrySchema, memorySchema } from '../../core/schemas.js';
import { type HistoryEntry, JOB_STATUSES, type Job, type JsonValue, type Memory } from '../../core/types.js';
import { CURRENT_FORMAT, type FileKind, migrateDocument } from './migrations.js';

const userFileSchema = z.object({
  format: z.literal(CURRENT_FORMAT),
  revision: z.string().min(1),
  userId: z.string(),
  memories: z.array(memorySchema),
  vectors: z.record(z.string(), z.string()),
  history: z.array(historyEntrySchema),
});

const storeFileSchema = z.object({
  format: z.literal(CURRENT_FORMAT),
  createdAt: z.string(),
  embedding: z.object({ model: z.string().min(1), dimension: z.number().int().positive() }).nullable(),
});
export type StoreFile = z.output<typeof storeFileSchema>;

/** Any JSON (the file was parsed from JSON, so nothing else can be there). */
const jsonValue = z.unknown() as unknown as z.ZodType<JsonValue>;

const jobSchema = z.object({
  id: z.string().min(1),
  userId: z.string().min(1),
  kind: z.string().min(1),
  status: z.enum(JOB_STATUSES),
  payload: jsonValue,
  result: jsonValue.nullable(),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
  attempts: z.number().int().min(0),
  createdAt: z.string(),
  updatedAt: z.string(),
  runAfter: z.string(),
  lease: z.string().nullable(),
  leaseUntil: z.string().nullable(),
}) satisfies z.ZodType<Job>;

const jobsFileSchema = z.object({ format: z.literal(CURRENT_FORMAT), jobs: z.array(jobSchema) });

export interface UserData {
  memories: Map<string, Memory>;
  vectors: Map<string, Float32Array>;
  history: HistoryEntry[];
}

/** A user's file as read: its content and the random token written with that version of it. */
export interface UserFile {
  revision: string;
  data: UserData;
}

export function damaged(file: string, reason: string, cause?: unknown): EngramError {
  return new EngramError(
    'internal',
    `${file} is damaged: ${reason}. Engram will neither read nor overwrite it; fix it or restore it from a backup.`,
    { details: { file }, cause },
  );
}

export function ioError(action: string, file: string, cause: unknown): EngramError {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code ?? 'unknown error';
  return new EngramError('unavailable', `could not ${action} ${file} (${code})`, { details: { file }, cause });
}

export function isErrno(error: unknown, code: string): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === code;
}

function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw damaged(file, `it is not valid JSON (${(error as Error).message})`, error);
  }
}

function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'its content does not match the expected shape';
  return `${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`;
}

function readDocument(kind: FileKind, text: string, file: string): unknown {
  const migrated = migrateDocument(kind, parseJson(text, file), file);
  if (!migrated.ok) throw migrated.error;
  return migrated.document;
}

export function parseUserFile(text: string, file: string, userId: string): UserFile {
  const parsed = userFileSchema.safeParse(readDocument('user', text, file));
  if (!parsed.success) throw damaged(file, firstIssue(parsed.error), parsed.error);
  const doc = parsed.data;
  if (doc.userId !== userId) throw damaged(file, `it belongs to user ${JSON.stringify(doc.userId)}`);
  const data: UserData = { memories: new Map(), vectors: new Map(), history: doc.history };
  for (const memory of doc.memories) {
    if (memory.userId !== userId) throw damaged(file, `memory ${memory.id} belongs to another user`);
    if (data.memories.has(memory.id)) throw damaged(file, `memory ${memory.id} appears twice`);
    const vector = decodeVector(doc.vectors[memory.id]);
    if (!vector) throw damaged(file, `memory ${memory.id} has no valid vector`);
    data.memories.set(memory.id, memory);
    data.vectors.set(memory.id, vector);
  }
  if (doc.history.some((entry) => entry.userId !== userId))
    throw damaged(file, 'a history entry belongs to another user');
  return { revision: doc.revision, data };
}

export function parseStoreFile(text: string, file: string): StoreFile {
  const parsed = storeFileSchema.safeParse(readDocument('store', text, file));
  if (!parsed.success) throw damaged(file, firstIssue(parsed.error), parsed.error);
  return parsed.data;
}

const encodedVectors = new WeakMap<Float32Array, string>();

/** Base64 of the float32 little-endian bytes; memoised because stored vectors are never mutated. */
function encodeVector(vector: Float32Array): string {
  const known = encodedVectors.get(vector);
  if (known !== undefined) return known;
  const bytes = Buffer.allocUnsafe(vector.length * 4);
  for (let i = 0; i < vector.length; i++) bytes.writeFloatLE(vector[i] as number, i * 4);
  const text = bytes.toString('base64');
  encodedVectors.set(vector, text);
  return text;
}

function decodeVector(text: string | undefined): Float32Array | null {
  if (text === undefined) return null;
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length % 4 !== 0 || bytes.toString('base64') !== text) return null;
  const vector = new Float32Array(bytes.length / 4);
  for (let i = 0; i < vector.length; i++) vector[i] = bytes.readFloatLE(i * 4);
  encodedVectors.set(vector, text);
  return vector;
}

export function byId(a: { id: string }, b: { id: string }): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export function serializeUser(userId: string, revision: string, data: UserData, pretty: boolean): string {
  const memories = [...data.memories.values()].sort(byId);
  const vectors = Object.fromEntries(
    memories.map((memory) => [memory.id, encodeVector(data.vectors.get(memory.id) ?? new Float32Array(0))]),
  );
  const doc = { format: CURRENT_FORMAT, revision, userId, memories, vectors, history: data.history };
  return `${JSON.stringify(doc, null, pretty ? 2 : undefined)}\n`;
}

/** `jobs.json`: every user's jobs in id order. */
export function parseJobsFile(text: string, file: string): Job[] {
  const parsed = jobsFileSchema.safeParse(readDocument('jobs', text, file));
  if (!parsed.success) throw damaged(file, firstIssue(parsed.error), parsed.error);
  return parsed.data.jobs;
}

export function serializeJobsFile(jobs: Job[]): string {
  return `${JSON.stringify({ format: CURRENT_FORMAT, jobs: [...jobs].sort(byId) }, null, 2)}\n`;
}

export function serializeStoreFile(content: StoreFile): string {
  return `${JSON.stringify({ ...content, format: CURRENT_FORMAT }, null, 2)}\n`;
}

export function newStoreFile(): StoreFile {
  return { format: CURRENT_FORMAT, createdAt: new Date().toISOString(), embedding: null };
}
