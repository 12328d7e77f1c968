import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Replaces `file` with `data` so that readers see either the old or the new content, never a
 * mix, and the new content is on disk before this resolves: temp file in the same directory,
 * fsync, rename over the target, fsync the directory.
 *
 * The file is created 0600 unless `mode` says otherwise: what Engram writes holds users' data.
 *
 * `beforeRename` runs once the new content is on disk, right before the rename; if it throws, the
 * temp file is removed, `file` is left as it was and the error is rethrown (e.g. a lost lock).
 */
export async function writeFileAtomic(
  file: string,
  data: string | Uint8Array,
  mode = 0o600,
  beforeRename?: () => void,
): Promise<void> {
  const dir = dirname(file);
  const temp = join(dir, `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, 'w', mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  await handle.close();
  try {
    beforeRename?.();
    await rename(temp, file);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  const dirHandle = await open(dir, 'r');
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
}
