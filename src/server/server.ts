import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { getRequestListener, RequestError, type ServerType } from '@hono/node-server';
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Redis } from 'ioredis';
import { KeyStore } from '../auth/key-store.js';
import { type BackupObserver, BackupScheduler, backupDir, sqliteFile } from '../backup/index.js';
import { type Config, isLoopback } from '../config.js';
import { ConfigError, EngramError } from '../core/errors.js';
import type { MemoryService } from '../core/memory-service.js';
import { Sweeper, type SweepTask } from '../core/sweeper.js';
import { createJobs, type JobQueue } from '../jobs/index.js';
import { createChatModel } from '../llm/index.js';
import type { Logger } from '../logger.js';
import { openKnowledgeBase } from '../runtime.js';
import { connectRedis } from '../shared/redis.js';
import { announceServing } from '../shared/serving.js';
import { createApp } from './app.js';
import { keysRequired } from './auth.js';
import { errorBody, toErrorResponse } from './errors.js';
import { closeMcpSessions } from './mcp/http.js';
import { createMetrics } from './metrics.js';
import type { AppEnv, ServerDeps } from './request-context.js';

export interface RunningServer {
  url: string;
  deps: ServerDeps;
  /** The HTTP app, for routes mounted after start (the bot's webhook). */
  app: OpenAPIHono<AppEnv>;
  /** Stops accepting connections and claiming jobs, lets in-flight requests (and jobs, for a grace period) finish, then closes the service. */
  close(): Promise<void>;
}

/** Refuses configurations that would expose memories: a non-loopback address needs API keys; a lost key file stops the start. */
export function checkExposure(config: Config, keys: KeyStore): void {
  // A key file that is missing where keys existed, or unreadable, stops the start (key-store.ts).
  keys.list();
  if (isLoopback(config.host)) return;
  if (config.auth.mode === 'none') {
    throw new EngramError(
      'invalid_request',
      `refusing to listen on ${config.host} with ENGRAM_AUTH=none: that would expose every memory`,
    );
  }
  if (!keys.hasActiveKeys()) {
    // The first start of the Docker image ends here (it listens on 0.0.0.0): name the exact command.
    throw new EngramError(
      'invalid_request',
      `refusing to listen on ${config.host} without API keys in ${config.dataDir}. ` +
        'Create an admin key there first (it is printed once), then start again:\n' +
        '  engram keys create --admin\n' +
        '  Docker:  docker run --rm -v engram-data:/data engram keys create --admin\n' +
        '  Compose: docker compose run --rm engram keys create --admin\n' +
        'or listen on 127.0.0.1 to run without keys.',
    );
  }
}

/** The port being taken or reserved, in one line that says what to do. */
function listenError(error: NodeJS.ErrnoException, config: Config): Error {
  const where = `${config.host}:${config.port}`;
  if (error.code === 'EADDRINUSE') {
    return new ConfigError(
      `${where} is already in use (another Engram, or another program); stop it, or choose another port with --port or ENGRAM_PORT`,
    );
  }
  if (error.code === 'EACCES') {
    return new ConfigError(
      `not allowed to listen on ${where} (ports below 1024 need privileges); choose a port above 1023 with --port or ENGRAM_PORT`,
    );
  }
  if (error.code === 'EADDRNOTAVAIL') {
    return new ConfigError(
      `${config.host} is not an address of this machine; choose another with --host or ENGRAM_HOST`,
    );
  }
  return error;
}

/**
 * A request the adapter cannot turn into a web Request (a backslash in its path, an unusable
 * URL) is answered 400 with the JSON envelope, like every other refusal.
 */
function requestError(logger: Logger) {
  return (error: unknown): Response => {
    const { status, body } = toErrorResponse(
      error instanceof RequestError
        ? new EngramError('invalid_request', `the request cannot be read: ${error.message}`)
        : error,
      logger,
    );
    return Response.json(body, { status });
  };
}

/**
 * Requests that Node's HTTP parser refuses before the app sees them (a request line and headers
 * over 16 KiB, malformed HTTP) get the JSON error envelope too, not Node's bare status line.
 */
export function answerClientErrors(server: ServerType): void {
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable || error.code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      socket.end('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n');
      return;
    }
    const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
    const body = JSON.stringify(
      errorBody(
        tooLarge
          ? new EngramError('headers_too_large', 'the request line and headers exceed 16 KiB')
          : new EngramError('invalid_request', 'the request is not valid HTTP'),
      ),
    );
    const status = tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request';
    socket.end(
      `HTTP/1.1 ${status}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Connection: close\r\n\r\n${body}`,
    );
  });
}

/**
 * Starts the HTTP server over an open service. `redis` is the connection the service's parts were
 * built with (the `serve` command connects it first), if any; without it the server connects to ENGRAM_REDIS_URL
 * itself. Either way the server owns the connection from here and closes it last.
 */
export async function startServer(
  config: Config,
  service: MemoryService,
  logger: Logger,
  redisConnection?: Redis | null,
): Promise<RunningServer> {
  const keys = new KeyStore(config.dataDir);
  checkExposure(config, keys);
  // `engram restore-backup`, `reindex` and `compact` refuse to run while this lock is live (shared/serving.ts).
  const stopServing = announceServing(config.dataDir, (error) =>
    logger.warn({ err: error.message }, 'the lock that marks this server as running was lost'),
  );
  const redis = redisConnection ?? (config.redis.url ? await connectRedis(config.redis.url) : null);
  const kb = await openKnowledgeBase(config, service, logger);
  // One chat model per process: the service's (extraction), or one for chat when it has none.
  const llm = service.inferrer?.chat ?? createChatModel(config);
  const jobs = createJobs(config, service, logger);
  const metrics = createMetrics(service, llm, config.llm, jobs.queue);
  const lifecycle = { draining: false };
  const deps: ServerDeps = { config, service, jobs: jobs.queue, keys, logger, metrics, redis, kb, llm, lifecycle };
  const app = createApp(deps);
  const listener = getRequestListener(app.fetch, { hostname: config.host, errorHandler: requestError(logger) });
  const server = await new Promise<ServerType>((resolve, reject) => {
    const s = createServer(listener);
    s.once('error', (error) => reject(listenError(error, config)));
    s.listen(config.port, config.host, () => resolve(s));
  }).catch(async (error: unknown) => {
    await kb?.close();
    throw error;
  });
  answerClientErrors(server);
  const { port } = server.address() as AddressInfo;
  const host = config.host.includes(':') && !config.host.startsWith('[') ? `[${config.host}]` : config.host;
  const url = `http://${host}:${port}`;
  logger.info(
    {
      url,
      store: service.store.name,
      embedder: service.embedder.model,
      keysRequired: keysRequired(deps),
      sharedRateLimit: redis !== null,
      sharedEmbeddingCache: service.embedder.sharedCache !== undefined,
      knowledgeBase: kb?.dir ?? null,
      llm: llm ? `${config.llm.provider}:${llm.model}` : null,
      jobConcurrency: config.jobs.concurrency,
    },
    'listening',
  );
  // Jobs left queued or running (by a crash) before this start are picked up now.
  jobs.runner.start();

  const sweeper = startSweeper(config, service, jobs.queue, logger);

  const backups = scheduleBackups(config, service, logger, metrics.backupObserver);

  let closing: Promise<void> | null = null;
  const close = () => {
    closing ??= (async () => {
      lifecycle.draining = true;
      const grace = config.shutdownGraceMs;
      await sweeper?.close();
      await backups?.close();
      await closeMcpSessions(deps);
      // The runner stops claiming at once and has (at most the whole grace period) for running jobs,
      // while in-flight requests finish; connections still open when the grace period ends are cut.
      const drained = new Promise<void>((resolve) => {
        server.close(() => resolve());
        if ('closeIdleConnections' in server) server.closeIdleConnections();
      });
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<'expired'>((resolve) => {
        timer = setTimeout(() => resolve('expired'), grace);
      });
      const [outcome] = await Promise.all([
        Promise.race([drained.then(() => 'drained' as const), expired]),
        jobs.runner.stop(Math.min(config.jobs.shutdownGraceMs, grace)),
      ]);
      clearTimeout(timer);
      if (outcome === 'expired' && 'closeAllConnections' in server) {
        logger.warn({ graceMs: grace }, 'shutdown grace period over: closing the connections still open');
        server.closeAllConnections();
        await drained;
      }
      await kb?.close();
      await service.close();
      await redis?.quit().catch(() => undefined);
      stopServing();
    })();
    return closing;
  };
  return { url, deps, app, close };
}

/**
 * Housekeeping every ENGRAM_SWEEP_INTERVAL_SECONDS: expired memories, then finished jobs older
 * than ENGRAM_JOBS_RETENTION_HOURS. Every replica may run it; the deletes are idempotent.
 */
function startSweeper(config: Config, service: MemoryService, jobs: JobQueue, logger: Logger): Sweeper | null {
  const interval = config.memory.sweepIntervalSeconds;
  if (interval === 0) return null;
  const tasks: SweepTask[] = [{ name: 'expired memories', run: () => service.sweepExpired() }];
  const retentionHours = config.jobs.retentionHours;
  if (retentionHours > 0) tasks.push({ name: 'finished jobs', run: () => jobs.prune(retentionHours * 3_600_000) });
  return new Sweeper(tasks, interval * 1000, {
    swept: (task, count) => {
      if (count > 0) logger.info({ count }, `swept ${task}`);
    },
    failed: (task, error) => logger.warn({ err: error }, `sweeping ${task} failed`),
  });
}

/** The server's scheduled backups (ENGRAM_BACKUP_INTERVAL_MINUTES), for the SQLite store. */
function scheduleBackups(
  config: Config,
  service: MemoryService,
  logger: Logger,
  observer: BackupObserver,
): BackupScheduler | null {
  const minutes = config.backup.intervalMinutes;
  if (minutes === 0) return null;
  if (service.store.name !== 'sqlite') {
    logger.warn(
      { store: service.store.name },
      'ENGRAM_BACKUP_INTERVAL_MINUTES is ignored: scheduled backups are for the sqlite store (docs/operations.md#backups)',
    );
    return null;
  }
  const schedule = {
    source: sqliteFile(config),
    dir: backupDir(config),
    intervalMs: minutes * 60_000,
    keep: config.backup.keep,
  };
  logger.info({ dir: schedule.dir, everyMinutes: minutes, keep: schedule.keep }, 'scheduled backups');
  return new BackupScheduler(schedule, {
    succeeded(report, pruned) {
      observer.succeeded(report, pruned);
      logger.info(
        {
          path: report.path,
          bytes: report.bytes,
          memories: report.memories,
          ms: Math.round(report.ms),
          pruned: pruned.length,
        },
        'backup written',
      );
    },
    failed(error) {
      observer.failed(error);
      logger.error({ err: error }, 'scheduled backup failed');
    },
  });
}
