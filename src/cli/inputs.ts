/** Reading user files for the CLI, with errors that name the file and the problem. */
import fs from 'node:fs';

/** A CLI usage or input error: printed as its message alone, exit code 2. */
export class UserError extends Error {
  override name = 'UserError';
}

/** Reads and parses a JSON file; throws UserError naming the file and what is wrong. */
export function readJsonFile(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UserError(`file not found: ${file}`);
    if (code === 'EISDIR') throw new UserError(`${file} is a directory, not a JSON file`);
    if (code === 'EACCES') throw new UserError(`cannot read ${file}: permission denied`);
    throw new UserError(`cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new UserError(`${file} is not valid JSON: ${(err as Error).message}`);
  }
}

/** Parses a positive whole number option. */
export function positiveInt(name: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value.trim()) || Number(value) < 1) throw new UserError(`${name} must be a whole number of at least 1, got "${value}"`);
    return Number(value);
  };
}
