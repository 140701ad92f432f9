/** Deleting files by age, for the folders the workers keep (cache, offloaded payloads). */
import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * Deletes the plain files of `dir` older (by modification time) than `maxAgeFor(name)` ms;
 * files it returns undefined for are left alone. Returns how many were deleted (0 for a missing folder).
 */
export async function removeOldFiles(dir: string, maxAgeFor: (name: string) => number | undefined): Promise<number> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return 0;
  }
  const now = Date.now();
  let removed = 0;
  for (const name of names) {
    const limit = maxAgeFor(name);
    if (limit === undefined) continue;
    const file = path.join(dir, name);
    const st = await fs.stat(file).catch(() => undefined);
    if (st?.isFile() && now - st.mtimeMs > limit) {
      await fs.rm(file, { force: true });
      removed++;
    }
  }
  return removed;
}
