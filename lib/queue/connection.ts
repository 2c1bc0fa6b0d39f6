// A reachability check of the queue that fails fast: ioredis and BullMQ retry a lost connection
// forever, which is right during a run but would make a command started against a wrong address
// or a stopped server hang instead of saying so.
import { Redis } from 'ioredis';
import type { QueueTarget } from './target';

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
