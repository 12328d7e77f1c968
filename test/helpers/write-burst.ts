/** Concurrent writers adding memories to a server until stopped, recording what was acknowledged. */
export interface WriteBurst {
  /** Acknowledged memory ids per user (`user0` …), in acknowledgement order. */
  acknowledged: Map<string, string[]>;
  /** Every acknowledged id so far. */
  ids(): string[];
  /** Resolves once at least `n` adds were acknowledged. */
  reached(n: number): Promise<void>;
  /** Stops the writers and waits for them. */
  stop(): Promise<void>;
}

/** `lanes` writers, lane i as user `user<i>`; a lane ends when the server stops answering. */
export function startWriteBurst(
  url: string,
  lanes: number,
  body: (n: number, lane: number) => Record<string, unknown>,
): WriteBurst {
  const acknowledged = new Map<string, string[]>();
  let stopped = false;
  let sent = 0;
  const writer = async (lane: number) => {
    const user = `user${lane}`;
    const ids: string[] = [];
    acknowledged.set(user, ids);
    while (!stopped) {
      try {
        const response = await fetch(`${url}/v1/memories`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-user-id': user },
          body: JSON.stringify(body(sent++, lane)),
        });
        if (response.status === 201) ids.push(((await response.json()) as { memory: { id: string } }).memory.id);
      } catch {
        return; // the server is gone or refuses connections
      }
    }
  };
  const running = Array.from({ length: lanes }, (_, lane) => writer(lane));
  const ids = () => [...acknowledged.values()].flat();
  return {
    acknowledged,
    ids,
    async reached(n) {
      while (ids().length < n) await new Promise((resolve) => setTimeout(resolve, 5));
    },
    async stop() {
      stopped = true;
      await Promise.all(running);
    },
  };
}
