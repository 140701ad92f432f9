/** File access of tool activities: reads only under the allowed roots; run files only under the runs folder. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { allowedFile, createToolActivities } from '../../src/activities/tools';

describe('allowedFile', () => {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'roots-')));
  const outside = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'outside-')));
  fs.mkdirSync(path.join(root, 'sub'));
  fs.writeFileSync(path.join(root, 'sub', 'a.txt'), 'a');
  fs.writeFileSync(path.join(outside, 'secret.txt'), 's');
  fs.symlinkSync(path.join(outside, 'secret.txt'), path.join(root, 'link.txt'));
  fs.symlinkSync(outside, path.join(root, 'dirlink'));

  test('relative and absolute paths under the root are allowed', async () => {
    await expect(allowedFile('sub/a.txt', [root])).resolves.toBe(path.join(root, 'sub', 'a.txt'));
    await expect(allowedFile(path.join(root, 'sub', 'a.txt'), [outside, root])).resolves.toBe(path.join(root, 'sub', 'a.txt'));
  });

  test.each([['/etc/passwd'], ['/proc/self/environ'], ['../outside/secret.txt'], ['sub/../../x'], ['link.txt'], ['dirlink/secret.txt']])(
    '%s is refused, non-retryably, naming the roots',
    async (file) => {
      const err = await allowedFile(file, [root]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ApplicationFailure);
      expect((err as ApplicationFailure).nonRetryable).toBe(true);
      expect((err as ApplicationFailure).type).toBe('ToolInputError');
      expect((err as ApplicationFailure).message).toContain(`outside the folders tools may read (${root})`);
    },
  );

  test('a missing file under the root says so; a missing file outside is refused without a look', async () => {
    await expect(allowedFile('nope.txt', [root])).rejects.toThrow('cannot read nope.txt: ENOENT');
    await expect(allowedFile('/nowhere/nope.txt', [root])).rejects.toThrow('outside the folders');
  });
});

describe('writeRunFile', () => {
  test.each([['..'], ['.'], ['../..'], ['a/../..'], ['']])('workflow id %j stays inside the runs folder', async (workflowId) => {
    const runs = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'runs-unit-')));
    const { writeRunFile } = createToolActivities({ runsDir: runs, documentRoots: [] });
    const written = await writeRunFile({ workflowId, file: '../report.md', content: 'x' });
    expect(path.relative(runs, written).startsWith('..')).toBe(false);
    expect(path.dirname(path.dirname(written))).toBe(runs);
    expect(fs.readFileSync(written, 'utf8')).toBe('x');
  });
});
