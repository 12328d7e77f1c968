/**
 * What one service call is about: a valid user id, and the store filter it reads through — what
 * is current now, or, with `asOf`, what was current at that instant.
 */
import { invalid } from './errors.js';
import { type FilterInput, userIdSchema } from './schemas.js';
import type { StoreFilter } from './types.js';

/** Refuses (`invalid_request`) a user id the service does not accept. */
export function checkUserId(userId: string): void {
  const result = userIdSchema.safeParse(userId);
  if (!result.success)
    throw invalid(`user id ${JSON.stringify(userId)} is not valid: ${result.error.issues[0]?.message}`);
}

/** The store filter for a caller's filter at `now`: current memories, or those current at its `asOf`. */
export function storeFilter(filter: FilterInput | undefined, now: string): StoreFilter {
  if (filter?.asOf === undefined) return { ...filter, now };
  // A point in time: what was current then, with expiry judged at that instant.
  const { asOf, ...rest } = filter;
  return { ...rest, now: asOf, validAt: asOf, includeSuperseded: true };
}
