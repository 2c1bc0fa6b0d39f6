// Where the queue lives: a --queue URL (redis://[user:password@]host[:port][/db], or rediss://
// for TLS) turned into ioredis options. Apart from the connection (connection.ts) so that the
// CLI's option parsing does not load ioredis.
import type { RedisOptions } from 'ioredis';
import { SpecError } from '../core/errors';

export interface QueueTarget {
  /** The URL without its password, for messages and reports. */
  display: string;
  connection: RedisOptions;
  /** BullMQ queue name (jobs of every run share it; their ids name the run). */
  name: string;
}

export const DEFAULT_QUEUE_NAME = 'tensorzip';

export function parseQueueTarget(url: string, name = DEFAULT_QUEUE_NAME): QueueTarget {
  const bad = (why: string) => new Error(`--queue must be redis://host[:port][/db] or rediss://… (${why}), got '${url}'`);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw bad('not a URL');
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw bad(`unknown scheme ${u.protocol}`);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host) throw bad('no host');
  const port = u.port ? Number(u.port) : 6379;
  const dbText = u.pathname.replace(/^\//, '');
  if (!/^[0-9]*$/.test(dbText) || Number(dbText) > 15) throw bad(`database must be a number 0-15`);
  if (u.search || u.hash) throw bad('no query or fragment is read');
  if (!/^[A-Za-z0-9_.-]{1,100}$/.test(name)) throw new SpecError(`--queue-name must be 1-100 letters, digits, '_', '.' or '-', got '${name}'`);
  const connection: RedisOptions = {
    host,
    port,
    db: dbText ? Number(dbText) : 0,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
  };
  const display = `${u.protocol}//${u.username ? `${u.username}@` : ''}${u.host}${dbText ? `/${dbText}` : ''}`;
  return { display, connection, name };
}
