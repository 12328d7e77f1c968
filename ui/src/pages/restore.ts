import { api, type Memory } from '../api';

const short = (text: string) => (text.length > 60 ? `${text.slice(0, 59)}…` : text);

export const isExpired = (memory: Memory) => memory.expiresAt !== null && Date.parse(memory.expiresAt) <= Date.now();

/**
 * Restores a deleted memory (as it was before its deletion) and says what happened. Back as it
 * was, an expired one would stay hidden and be swept again, so it comes back without its expiry.
 */
export async function restoreMemory(memory: Memory): Promise<string> {
  await api.restore(memory.id);
  if (!isExpired(memory)) return `Restored "${short(memory.content)}".`;
  await api.update(memory.id, { expiresAt: null });
  return `Restored "${short(memory.content)}" without its expiry (it had expired ${new Date(memory.expiresAt as string).toLocaleString()}).`;
}
