// Opening files a user names for reading. A FIFO opened for reading blocks until a writer comes
// (for ever, and signals do not end a blocked open), and a device can be endless: such files are
// opened without blocking (O_NONBLOCK, which changes nothing for regular files) and refused.
import { constants, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { FS_WORDS } from './output-path';

/** What a file that is not a regular one is, in words. */
export function fileKind(info: Stats): string {
  if (info.isFile()) return 'a regular file';
  if (info.isDirectory()) return 'a folder';
  if (info.isFIFO()) return 'a FIFO';
  if (info.isSocket()) return 'a socket';
  if (info.isCharacterDevice()) return 'a character device';
  if (info.isBlockDevice()) return 'a block device';
  return 'not a file';
}

/** Opens `file` for reading; anything but a regular file (symlinks followed) is refused. */
export async function openRegularFile(file: string): Promise<FileHandle> {
  const fh = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const info = await fh.stat();
    if (!info.isFile()) throw Object.assign(new Error(`${file}: ${fileKind(info)}, not a regular file`), { code: 'ENOTREGULAR', kind: fileKind(info) });
    return fh;
  } catch (e) {
    await fh.close();
    throw e;
  }
}

/** The content of a regular file (see openRegularFile). */
export async function readRegularFile(file: string): Promise<Buffer>;
export async function readRegularFile(file: string, encoding: 'utf8'): Promise<string>;
export async function readRegularFile(file: string, encoding?: 'utf8'): Promise<Buffer | string> {
  const fh = await openRegularFile(file);
  try {
    return encoding ? await fh.readFile(encoding) : await fh.readFile();
  } finally {
    await fh.close();
  }
}

/** Read failures worded for the file a user named; the rest as every fs error (FS_WORDS). */
const READ_WORDS: Record<string, string> = {
  ENOENT: 'no such file',
  EPERM: 'permission denied',
  EISDIR: 'a folder, not a file',
  ENOTDIR: 'a path through something that is not a folder',
  ELOOP: 'a chain of symlinks that never ends',
  EIO: 'an input/output error',
};

/** Why a file could not be opened or read, in words (not Node's text, which names no file). */
export function readProblem(e: unknown): string {
  const err = e as NodeJS.ErrnoException & { kind?: string };
  if (err.code === 'ENOTREGULAR') return `${err.kind}, not a regular file`;
  if (!err.code) return err.message ?? String(e);
  return READ_WORDS[err.code] ?? FS_WORDS[err.code] ?? err.code;
}

/** err with the system error code of its cause kept (ENOENT, EACCES, …), for API callers. */
export function withCode<E extends Error>(err: E, cause: unknown): E {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? Object.assign(err, { code, cause }) : err;
}
