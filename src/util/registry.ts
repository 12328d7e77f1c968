import { z } from 'zod';
import { EngramError } from '../core/errors.js';

/**
 * One entry of a registry (stores, embedders, chat providers): the options it takes, as a zod
 * schema of its own, and how to build it from them. The config and the CLI's store specs fill
 * the options from settings (src/backends.ts); `build` validates them here, once, for everyone.
 */
export interface Backend<Schema extends z.ZodType, T> {
  readonly schema: Schema;
  create(options: z.output<Schema>): T;
}

/** An entry, with `create`'s options typed by the schema. */
export const backend = <Schema extends z.ZodType, T>(
  schema: Schema,
  create: (options: z.output<Schema>) => T,
): Backend<Schema, T> => ({ schema, create });

/** A registry: every backend of one kind by name. */
export type Registry<T> = Record<string, Backend<z.ZodType, T>>;

/** What a caller may pass to the named entry (defaults optional). */
export type OptionsInput<R extends Registry<unknown>, N extends keyof R> = z.input<R[N]['schema']>;
/** What the named entry's `create` receives (defaults filled in). */
export type OptionsOutput<R extends Registry<unknown>, N extends keyof R> = z.output<R[N]['schema']>;

/**
 * Validates `options` against the named entry's schema and builds it. A bad option fails with
 * `invalid_request` naming it: `invalid <name> <kind> config: ✖ …`.
 */
export function build<T, R extends Registry<T>, N extends keyof R & string>(
  registry: R,
  kind: string,
  name: N,
  options: OptionsInput<R, N>,
): T {
  const entry = registry[name];
  if (!entry) throw new EngramError('invalid_request', `unknown ${kind} ${JSON.stringify(name)}`);
  const parsed = entry.schema.safeParse(options);
  if (!parsed.success) {
    throw new EngramError('invalid_request', `invalid ${name} ${kind} config: ${z.prettifyError(parsed.error)}`);
  }
  return entry.create(parsed.data);
}
