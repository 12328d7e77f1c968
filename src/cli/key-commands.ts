/** `engram keys create|list|reset|revoke`: API keys, stored hashed in `<data-dir>/keys.json`. */
import type { Command } from 'commander';
import { KeyStore } from '../auth/key-store.js';
import { EngramError } from '../core/errors.js';
import { configFrom, print } from './common.js';

export function registerKeyCommands(program: Command): void {
  const keys = program.command('keys').description('manage API keys (stored hashed in <data-dir>/keys.json)');
  keys
    .command('create')
    .description('create a key; it is printed once')
    .option('--user <id>', 'bind the key to one user')
    .option('--admin', 'an admin key (may act for any user via X-User-ID)')
    .option('--name <name>', 'a label for the key')
    .action(async (options: { user?: string; admin?: boolean; name?: string }, command: Command) => {
      if (Boolean(options.user) === Boolean(options.admin)) {
        throw new EngramError('invalid_request', 'give exactly one of --user <id> or --admin');
      }
      const store = new KeyStore(configFrom(command).dataDir);
      const { record, key } = await store.create({ admin: options.admin, userId: options.user, name: options.name });
      process.stderr.write(
        `created key ${record.id} (${record.admin ? 'admin' : `user ${record.userId}`}); it is shown only once:\n`,
      );
      print(key);
    });
  keys
    .command('list')
    .description('list keys (never the secrets)')
    .action((_options: unknown, command: Command) => {
      for (const key of new KeyStore(configFrom(command).dataDir).list()) {
        const scope = key.admin ? 'admin' : `user ${key.userId}`;
        print(
          `${key.id}  ${scope.padEnd(24)} ${key.name}  created ${key.createdAt}${key.revokedAt ? `  REVOKED ${key.revokedAt}` : ''}`,
        );
      }
    });
  keys
    .command('reset')
    .description(
      'go back to keyless local mode on purpose: sets keys.json aside and forgets that keys existed ' +
        '(a server refuses every request while keys.json is missing after keys existed)',
    )
    .action((_options: unknown, command: Command) => {
      const moved = new KeyStore(configFrom(command).dataDir).reset();
      print(
        moved
          ? `keys.json moved to ${moved}; keyless local mode (loopback only) from the next request`
          : 'no keys.json; keyless local mode (loopback only) from the next request',
      );
    });
  keys
    .command('revoke')
    .description('revoke a key by id')
    .argument('<id>', 'key id from `engram keys list`')
    .action(async (id: string, _options: unknown, command: Command) => {
      const record = await new KeyStore(configFrom(command).dataDir).revoke(id);
      print(`revoked ${record.id}`);
    });
}
