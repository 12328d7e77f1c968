/**
 * Where each store's, embedder's and chat provider's options come from in the config: one table
 * per registry, option → setting (a dot path of the config). The config checks the chosen
 * backend's options against its registry schema with them (naming the variable to set), the
 * runtime and the CLI's `<store>:<location>` specs build the options with them; the registries
 * (stores/registry.ts, embed/registry.ts, llm/registry.ts) validate and create.
 */
import type { z } from 'zod';
import { EngramError } from './core/errors.js';
import { type EmbedderConfigInput, type EmbedderName, embedders } from './embed/registry.js';
import { type ChatProviderName, chatProviders } from './llm/registry.js';
import { STORE_NAMES, type StoreName, type StoreOptions, stores } from './stores/registry.js';

/**
 * What this module reads of a config: the chosen backends (every other setting by its dot path).
 * Structural, so config-schema.ts can check a config with it without an import cycle.
 */
export interface Config {
  readonly store: StoreName;
  readonly embedder: EmbedderName;
  readonly llm: { readonly provider: ChatProviderName | 'none' };
}

type Settings<Options> = { readonly [K in keyof Required<Options>]: string };

const POSTGRES = {
  url: 'postgres.url',
  schema: 'postgres.schema',
  poolMax: 'postgres.poolMax',
  statementTimeoutMs: 'postgres.statementTimeoutMs',
  hnsw: 'postgres.hnsw',
  efSearch: 'postgres.efSearch',
} as const;

/** Each store's options, from the settings. The JSON store takes no SQLite settings. */
export const STORE_SETTINGS: { [N in StoreName]: Settings<StoreOptions<N>> } = {
  sqlite: {
    dataDir: 'dataDir',
    path: 'sqlite.path',
    synchronous: 'sqlite.synchronous',
    readers: 'sqlite.readers',
    busyTimeoutMs: 'sqlite.busyTimeoutMs',
    cacheMb: 'sqlite.cacheMb',
    mmapMb: 'sqlite.mmapMb',
    annMinMemories: 'sqlite.annMinMemories',
    annThreads: 'sqlite.annThreads',
    annMemory: 'sqlite.annMemory',
  },
  json: { dataDir: 'dataDir' },
  postgres: POSTGRES,
};

/** Each embedder's options, from the settings (an option the config has no setting for keeps its default). */
export const EMBEDDER_SETTINGS: { [N in EmbedderName]: Partial<Settings<EmbedderConfigInput<N>>> } = {
  use: { backend: 'embed.backend', threads: 'embed.threads', queryWorker: 'embed.queryWorker' },
  openai: {
    baseUrl: 'openai.baseUrl',
    apiKey: 'openai.apiKey',
    model: 'openai.model',
    dimension: 'openai.dimension',
    batchSize: 'openai.batchSize',
    timeoutMs: 'openai.timeoutMs',
  },
  onnx: {
    path: 'onnx.path',
    threads: 'onnx.threads',
    maxBatchSize: 'onnx.maxBatchSize',
    prefix: 'onnx.prefix',
    queryWorker: 'embed.queryWorker',
  },
};

const CHAT = {
  baseUrl: 'llm.baseUrl',
  apiKey: 'llm.apiKey',
  model: 'llm.model',
  timeoutMs: 'llm.timeoutMs',
  maxRetries: 'llm.maxRetries',
  concurrency: 'llm.concurrency',
  temperature: 'llm.temperature',
} as const;

/** Each chat provider's settings. */
export const CHAT_SETTINGS: { [N in ChatProviderName]: Settings<z.input<(typeof chatProviders)[N]['schema']>> } = {
  openai: CHAT,
  anthropic: CHAT,
};

const settingAt = (config: object, path: string): unknown =>
  path.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], config);

/** The options a table names, read from the config; unset settings are left out. */
function optionsFrom(config: object, settings: Readonly<Record<string, string | undefined>>): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  for (const [option, path] of Object.entries(settings)) {
    const value = path === undefined ? undefined : settingAt(config, path);
    if (value !== undefined) options[option] = value;
  }
  return options;
}

/** The named store's options from the config (the configured store's unless another is named). */
export const storeOptions = <N extends StoreName>(config: Config, name: N): StoreOptions<N> =>
  optionsFrom(config, STORE_SETTINGS[name]) as StoreOptions<N>;

export const embedderOptions = <N extends EmbedderName>(config: Config, name: N): EmbedderConfigInput<N> =>
  optionsFrom(config, EMBEDDER_SETTINGS[name]) as EmbedderConfigInput<N>;

export const chatOptions = <N extends ChatProviderName>(
  config: Config,
  name: N,
): z.input<(typeof chatProviders)[N]['schema']> => optionsFrom(config, CHAT_SETTINGS[name]) as never;

/** A problem with a setting: its path and what is wrong. */
export interface SettingIssue {
  path: string[];
  message: string;
}

/**
 * The chosen store's, embedder's and chat provider's options checked against their own schemas,
 * each problem on the setting behind it: `onnx.path: a model directory is required when
 * ENGRAM_EMBEDDER=onnx`. Only options that are missing are reported (a value that is set was
 * checked by the setting's own rule already).
 */
export function backendIssues(config: Config): SettingIssue[] {
  const chosen = [
    {
      variable: 'ENGRAM_STORE',
      name: config.store,
      schema: stores[config.store].schema,
      settings: STORE_SETTINGS[config.store],
    },
    {
      variable: 'ENGRAM_EMBEDDER',
      name: config.embedder,
      schema: embedders[config.embedder].schema,
      settings: EMBEDDER_SETTINGS[config.embedder],
    },
    ...(config.llm.provider === 'none'
      ? []
      : [
          {
            variable: 'ENGRAM_LLM_PROVIDER',
            name: config.llm.provider,
            schema: chatProviders[config.llm.provider].schema,
            settings: CHAT_SETTINGS[config.llm.provider],
          },
        ]),
  ];
  return chosen.flatMap(({ variable, name, schema, settings }) => {
    const options = optionsFrom(config, settings);
    const result = (schema as z.ZodType).safeParse(options);
    if (result.success) return [];
    return result.error.issues.flatMap((issue) => {
      const option = String(issue.path[0]);
      const path = (settings as Record<string, string | undefined>)[option];
      if (path === undefined || options[option] !== undefined) return [];
      return [{ path: path.split('.'), message: `${issue.message} when ${variable}=${name}` }];
    });
  });
}

/** The option a `<store>:<location>` spec sets; a URL's location keeps its scheme (`postgres://…`). */
const SPEC_LOCATION: { [N in StoreName]: { option: keyof StoreOptions<N>; url?: true } } = {
  sqlite: { option: 'path' },
  json: { option: 'dataDir' },
  postgres: { option: 'url', url: true },
};
const SPEC_ALIASES: Readonly<Record<string, StoreName>> = { postgresql: 'postgres' };

type StoreSpec = { [N in StoreName]: { name: N; options: StoreOptions<N> } }[StoreName];

/**
 * `sqlite:<file>`, `json:<data dir>` or `postgres:<url>` (`postgresql:` too) → the store and its
 * options: the configured settings of that store, with the spec's location in place of the one set.
 */
export function parseStoreSpec(spec: string, config: Config): StoreSpec {
  const colon = spec.indexOf(':');
  const kind = spec.slice(0, colon);
  const where = spec.slice(colon + 1);
  if (colon < 1 || where === '') throw new EngramError('invalid_request', `expected <store>:<location>, got ${spec}`);
  const name = Object.hasOwn(stores, kind) ? (kind as StoreName) : SPEC_ALIASES[kind];
  if (!name) {
    const known = STORE_NAMES.map((store) => `${store}:`);
    throw new EngramError(
      'invalid_request',
      `unknown store ${JSON.stringify(kind)}: use ${known.slice(0, -1).join(', ')} or ${known.at(-1)}`,
    );
  }
  const location = SPEC_LOCATION[name];
  const options = { ...storeOptions(config, name), [location.option]: location.url ? spec : where };
  return { name, options } as StoreSpec;
}
