// A throwaway redis-server on a free loopback port (no persistence), for `tensorzip bench queue`
// and the tests: Debian's redis-server package, started and stopped by the caller.
import { spawn } from 'node:child_process';
import * as net from 'node:net';
import { checkReachable } from './connection';
import { parseQueueTarget } from './target';

export interface LocalRedis {
  url: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** user and password: an ACL user the server requires (its default user is then disabled), and
 * in the URL. */
export async function startLocalRedis(auth?: { user: string; password: string }): Promise<LocalRedis> {
  const port = await freePort();
  const url = `redis://${auth ? `${encodeURIComponent(auth.user)}:${encodeURIComponent(auth.password)}@` : ''}127.0.0.1:${port}`;
  const acl = auth ? ['--user', 'default', 'off', '--user', auth.user, 'on', `>${auth.password}`, '~*', '&*', '+@all'] : [];
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...acl], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  await new Promise<void>((resolve, reject) => {
    child.once('error', (e) => reject(new Error(`cannot start redis-server (${(e as NodeJS.ErrnoException).code}): install it (apt-get install redis-server), or give a --queue`)));
    child.once('spawn', resolve);
  });
  for (let i = 0; ; i++) {
    try {
      await checkReachable(parseQueueTarget(url), 500);
      return { url, stop };
    } catch (e) {
      if (i > 100) {
        await stop();
        throw e;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
