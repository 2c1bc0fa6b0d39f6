// Where the queue lives: a --queue URL (redis://[user:password@]host[:port][/db], or rediss://
// for TLS) turned into ioredis options, and a reachability check that fails fast: ioredis and
// BullMQ retry a lost connection forever, which is right during a run but would make a command
// started against a wrong address or a stopped server hang instead of saying so.
import { Redis, type RedisOptions } from 'ioredis';

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
  if (!/^[A-Za-z0-9_.-]{1,100}$/.test(name)) throw new Error(`--queue-name must be 1-100 letters, digits, '_', '.' or '-', got '${name}'`);
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

/** Connects once, without retries, and pings; throws a one-line error naming the server. */
export async function checkReachable(target: QueueTarget, timeoutMs = 5000): Promise<void> {
  const client = new Redis({ ...target.connection, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: timeoutMs });
  let cause: NodeJS.ErrnoException | undefined; // the socket's error: connect() rejects with a generic one
  client.on('error', (e: NodeJS.ErrnoException) => (cause ??= e));
  try {
    await client.connect();
    await client.ping();
  } catch (e) {
    const err = cause ?? (e as NodeJS.ErrnoException);
    throw new Error(`cannot reach the queue at ${target.display}: ${err.code ?? err.message}`);
  } finally {
    client.disconnect();
  }
}
