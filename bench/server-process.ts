/**
 * A real `engram serve` process for the benchmarks that drive Engram over HTTP (fairness, http):
 * started on a free port with the given data directory (rate limit off), stopped with SIGTERM.
 * BENCH_SERVER_NODE_ARGS passes options to the server's node, e.g.
 * "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile it.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/engram.js', import.meta.url));

export interface ServerProcess {
  url: string;
  stop(): Promise<void>;
}

export async function startServerProcess(dataDir: string): Promise<ServerProcess> {
  const nodeArgs = process.env.BENCH_SERVER_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...nodeArgs, BIN, 'serve', '--port', '0'], {
    env: {
      ...process.env,
      ENGRAM_DATA_DIR: dataDir,
      ENGRAM_LOG_LEVEL: 'info',
      ENGRAM_RATE_LIMIT_PER_MINUTE: '0',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr?.on('data', (chunk: Buffer) => {
      err += chunk.toString();
      const match = /"url":"(http:[^"]+)"/.exec(err);
      if (match) resolve(match[1] as string);
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}:\n${err}`)));
  });
  return {
    url,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}
