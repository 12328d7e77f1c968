import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KeyStore } from '../../src/auth/key-store.js';
import { testConfig } from '../../src/config.js';
import { checkExposure } from '../../src/server/server.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('listening address safety', () => {
  it('refuses a non-loopback address without keys, and allows it once a key exists', async () => {
    const dataDir = await tempDir('engram-exposure-');
    const keys = new KeyStore(dataDir);
    const config = testConfig({ host: '0.0.0.0', dataDir });
    expect(() => checkExposure(config, keys)).toThrow(/refusing to listen on 0\.0\.0\.0 without API keys/);
    // The refusal tells where the key goes and the exact command for each way of running Engram.
    const refusal = (() => {
      try {
        checkExposure(config, keys);
      } catch (error) {
        return (error as Error).message;
      }
      return '';
    })();
    expect(refusal).toContain(`without API keys in ${dataDir}`);
    expect(refusal).toContain('engram keys create --admin\n');
    expect(refusal).toContain('docker run --rm -v engram-data:/data engram keys create --admin');
    expect(refusal).toContain('docker compose run --rm engram keys create --admin');
    await keys.create({ admin: true });
    expect(() => checkExposure(config, keys)).not.toThrow();
    expect(() => checkExposure(testConfig({ host: '0.0.0.0', dataDir, auth: { mode: 'none' } }), keys)).toThrow(
      /ENGRAM_AUTH=none/,
    );
    expect(() =>
      checkExposure(
        testConfig({ host: '127.0.0.1', dataDir: join(dataDir, 'empty') }),
        new KeyStore(join(dataDir, 'empty')),
      ),
    ).not.toThrow();
  });

  it('stores keys hashed, never in clear text', async () => {
    const dataDir = await tempDir('engram-keys-');
    const keys = new KeyStore(dataDir);
    const { key } = await keys.create({ userId: 'alice' });
    const { readFile } = await import('node:fs/promises');
    const file = await readFile(join(dataDir, 'keys.json'), 'utf8');
    expect(file).not.toContain(key);
    expect(keys.authenticate(key)).toMatchObject({ kind: 'user', userId: 'alice' });
    expect(keys.authenticate(`${key}x`)).toBeNull();
  });
});
