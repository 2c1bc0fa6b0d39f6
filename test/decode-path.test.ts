// The pieces decompress streams through: piece checksums checked on the job's threads, the
// buffer pool, and AppendFile (O_DIRECT where the file system takes it, the page cache elsewhere).
import { strict as assert } from 'node:assert';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { decompressPieces, type StoredPiece } from '../lib/container/stage';
import { BufferPool } from '../lib/core/buffer-pool';
import { AppendFile } from '../lib/io/append-file';
import { native } from '../lib/native';
import { Rng } from '../lib/core/random';

const random = (n: number, seed: number) => {
  const r = new Rng(seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 4) new DataView(out.buffer).setUint32(i, r.u32(), true);
  return out;
};

describe('piece checksums', () => {
  it('checks raw and coded pieces of any size (segments joined exactly) before decoding', async () => {
    // 9 MiB + 5: three 4 MiB segments, the last one short.
    const big = random((9 << 20) + 8, 1).subarray(0, (9 << 20) + 5);
    const pieces: StoredPiece[] = [big, new Uint8Array(0), random(4096, 2)].map((data) => ({ codec: 'raw', data, rawBytes: data.byteLength, crc32: zlib.crc32(data) }));
    for (const threads of [1, 2]) {
      const out = await decompressPieces(pieces, { threads });
      out.forEach((o, i) => assert.equal(o, pieces[i].data));
    }
    for (const bad of [0, 1, 2]) {
      const wrong = pieces.map((p, i) => (i === bad ? { ...p, crc32: (p.crc32! ^ 1) >>> 0 } : p));
      await assert.rejects(decompressPieces(wrong, { threads: 2 }), new RegExp(`^Error: piece ${bad}: checksum mismatch$`));
    }
  });

  it('the container reader names the piece whose bytes changed', async () => {
    // Covered end to end in bad-input.test.ts ("corrupted piece data (checksum)"); here the
    // native call's refusals of malformed checksum lists.
    const data = random(64, 3);
    assert.throws(() => native.decodePieces([data], [new Uint8Array(0)], { codecs: ['raw'], crc32: [] }), /one checksum per piece/);
    assert.throws(() => native.decodePieces([data], [new Uint8Array(0)], { codecs: ['raw'], crc32: [-1] }), /unsigned 32-bit/);
    assert.throws(() => native.decodePieces([data], [new Uint8Array(0)], { codecs: ['raw'], crc32: [2 ** 32] }), /unsigned 32-bit/);
    assert.throws(() => native.decodePieces([data], [new Uint8Array(1)], { codecs: ['raw'], crc32: [zlib.crc32(data)] }), /raw piece must be empty/);
    assert.throws(() => native.decodePieces([data], [new Uint8Array(0)], { codecs: ['lz4' as 'raw'] }), /codec must be 'rans', 'xz' or 'raw'/);
  });

  it('refuses memory the decode would write twice, or write where it reads', () => {
    const frames = [random(64, 4), random(64, 5)];
    const codecs: Array<'rans'> = ['rans', 'rans'];
    const out = new Uint8Array(256);
    const decode = (pieces: Uint8Array[], outputs: Uint8Array[], merge?: { width: number; dst: Uint8Array }) =>
      native.decodePieces(pieces, outputs, { codecs, ...(merge ? { merge } : {}) });
    assert.throws(() => decode(frames, [out.subarray(0, 128), out.subarray(64, 192)]), /^RangeError: outputs must not overlap$/);
    assert.throws(() => decode([frames[0], out.subarray(100, 164)], [out.subarray(0, 128), out.subarray(128, 256)]), /^RangeError: pieces and outputs must not overlap$/);
    const planes = [out.subarray(0, 64), out.subarray(64, 128)];
    assert.throws(() => decode(frames, planes, { width: 2, dst: out.subarray(120, 248) }), /^RangeError: outputs and merge\.dst must not overlap$/);
    const big = random(256, 6);
    assert.throws(() => decode([big.subarray(0, 64), big.subarray(64, 128)], planes, { width: 2, dst: big.subarray(128 - 8, 256 - 8) }), /^RangeError: pieces and merge\.dst must not overlap$/);
  });
});

describe('buffer pool', () => {
  it('lends the same memory again once it is given back, and never twice at once', () => {
    const pool = new BufferPool();
    const a = pool.take(3 << 20);
    assert.equal(a.byteLength, 3 << 20);
    const b = pool.take(3 << 20);
    assert.notEqual(a.buffer, b.buffer);
    pool.give(a, a.subarray(5)); // a view of the same buffer: given once
    const c = pool.take(4 << 20); // the same size class (powers of two)
    assert.equal(c.buffer, a.buffer);
    assert.notEqual(pool.take(4 << 20).buffer, a.buffer);
    pool.give(new Uint8Array(1 << 20)); // not the pool's: ignored
    assert.equal(pool.take(1 << 20).byteLength, 1 << 20);
    assert.equal(pool.take(10).byteLength, 10); // small sizes are not pooled
  });
});

describe('AppendFile', () => {
  let dir: string;
  before(async () => (dir = await mkdtemp(path.join(os.tmpdir(), 'tz-append-'))));
  after(() => rm(dir, { recursive: true, force: true }));

  const cases: Array<[string, number[]]> = [
    ['empty', []],
    ['a short unaligned file', [1, 4095, 3]],
    ['writes spanning several staging buffers, with an unaligned tail', [100, (8 << 20) - 50, 24 << 20, 12345]],
    ['exact multiples of the staging buffer', [8 << 20, 8 << 20]],
  ];
  for (const [what, sizes] of cases)
    for (const direct of [true, false])
    it(`writes exactly its bytes${direct ? ' (O_DIRECT)' : ''}: ${what}`, async () => {
      const file = path.join(dir, what.replace(/\W+/g, '-') + direct);
      const parts = sizes.map((n, i) => random(Math.ceil(n / 4) * 4, 10 + i).subarray(0, n));
      const f = await AppendFile.create(file, { direct });
      for (const p of parts) await f.write(p);
      assert.equal(f.bytes, sizes.reduce((a, b) => a + b, 0));
      await f.finish();
      assert.ok(Buffer.concat(parts).equals(await readFile(file)));
    });

  it('refuses an existing file, leaving it as it was', async () => {
    const file = path.join(dir, 'existing');
    await writeFile(file, 'keep me');
    await assert.rejects(AppendFile.create(file, { direct: true }), /EEXIST/);
    assert.equal(await readFile(file, 'utf8'), 'keep me');
  });

  it('writes through the page cache where the file system refuses O_DIRECT', async () => {
    const setDirectIo = native.setDirectIo;
    native.setDirectIo = () => false;
    try {
      const data = random(3 << 20, 7).subarray(0, (3 << 20) - 1);
      const f = await AppendFile.create(path.join(dir, 'refused'), { direct: true });
      await f.write(data);
      await f.finish();
      assert.ok(Buffer.from(data).equals(await readFile(path.join(dir, 'refused'))));
    } finally {
      native.setDirectIo = setDirectIo;
    }
  });

  it('goes on through the page cache when a direct transfer is refused (EINVAL)', async () => {
    const proto = AppendFile.prototype as unknown as { writeAll: (...a: unknown[]) => Promise<void> };
    const writeAll = proto.writeAll;
    let refused = 0;
    // Every direct transfer is refused; one write of 20 MiB starts two stages' writes at once,
    // and both fail before either falls back.
    proto.writeAll = async function (this: { direct: boolean }, ...a: unknown[]) {
      if (this.direct) {
        refused++;
        await new Promise((r) => setTimeout(r, 5));
        throw Object.assign(new Error('EINVAL: invalid argument, write'), { code: 'EINVAL' });
      }
      return writeAll.apply(this, a);
    };
    try {
      const data = random(20 << 20, 8).subarray(0, (20 << 20) - 3);
      const f = await AppendFile.create(path.join(dir, 'einval'), { direct: true });
      await f.write(data);
      await f.finish();
      assert.ok(refused >= 2, `${refused} direct transfers refused`); // at least two in flight at once
      assert.ok(Buffer.from(data).equals(await readFile(path.join(dir, 'einval'))));
    } finally {
      proto.writeAll = writeAll;
    }
  });

  it('ends at its last byte when a refused transfer switches to the page cache while the padded last one is under way', async () => {
    const proto = AppendFile.prototype as unknown as { writeAll: (...a: unknown[]) => Promise<void> };
    const writeAll = proto.writeAll;
    let calls = 0;
    // The first stage's direct transfer is refused late; the last stage's (padded) goes through first.
    proto.writeAll = async function (this: { direct: boolean }, ...a: unknown[]) {
      if (this.direct && calls++ === 0) {
        await new Promise((r) => setTimeout(r, 30));
        throw Object.assign(new Error('EINVAL: invalid argument, write'), { code: 'EINVAL' });
      }
      return writeAll.apply(this, a);
    };
    try {
      const file = path.join(dir, 'late-einval');
      const data = random((8 << 20) + 100, 24).subarray(0, (8 << 20) + 99);
      const f = await AppendFile.create(file, { direct: true });
      await f.write(data);
      await f.finish();
      assert.ok(Buffer.from(data).equals(await readFile(file)));
    } finally {
      proto.writeAll = writeAll;
    }
  });

  for (const direct of [true, false])
    it(`continues an open file at an unaligned offset, keeping the bytes before it${direct ? ' (O_DIRECT)' : ''}`, async () => {
      const file = path.join(dir, `over-${direct}`);
      const before = random(12000, 20);
      const data = random(20 << 20, 21).subarray(0, (20 << 20) - 7);
      await writeFile(file, Buffer.concat([before, random(9000, 22)])); // what lies after the offset is overwritten
      const fh = await open(file, 'r+');
      try {
        const start = 5003;
        const f = await AppendFile.over(fh, file, start, { direct });
        assert.equal(f.written, start);
        assert.equal(f.bytes, start);
        await f.write(data.subarray(0, 10 << 20));
        // The first stage went out once full; the rest waits in the next one.
        await f.whenWritten(start + (4 << 20));
        assert.ok(f.written > start && f.written < start + (10 << 20), `written ${f.written}`);
        let late = false;
        const rest = f.whenWritten(start + data.byteLength).then(() => (late = true));
        await f.write(data.subarray(10 << 20));
        assert.equal(late, false);
        await f.complete();
        await rest;
        assert.equal(f.written, start + data.byteLength);
        assert.ok(Buffer.concat([before.subarray(0, start), data]).equals(await readFile(file)));
      } finally {
        await fh.close();
      }
    });

  it('whenWritten rejects once a write fails, and complete() throws it', async () => {
    const proto = AppendFile.prototype as unknown as { writeAll: (...a: unknown[]) => Promise<void> };
    const writeAll = proto.writeAll;
    proto.writeAll = async () => {
      throw Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
    };
    try {
      const f = await AppendFile.create(path.join(dir, 'eio'), { direct: true });
      const waiting = f.whenWritten(10);
      await f.write(random(9 << 20, 23));
      await assert.rejects(waiting, /EIO/);
      await assert.rejects(f.whenWritten(20), /EIO/);
      await assert.rejects(f.complete(), /EIO/);
      await f.abort();
    } finally {
      proto.writeAll = writeAll;
    }
  });

  it('aligned buffers and the O_DIRECT switch refuse bad arguments', () => {
    assert.equal(native.alignedBuffer(8192).byteLength, 8192);
    const huge = new Uint8Array(native.alignedBuffer(6 << 20)); // 2 MiB-aligned, on huge pages where granted
    huge.fill(1, 0, 3 << 20).fill(7, 3 << 20);
    assert.deepEqual([huge[0], huge[(3 << 20) - 1], huge[3 << 20], huge[(6 << 20) - 1]], [1, 1, 7, 7]);
    assert.throws(() => native.alignedBuffer(2 ** 30 + 4096), /from 4 KiB to 1 GiB/);
    assert.throws(() => native.alignedBuffer(100), /multiple of 4096/);
    assert.throws(() => native.alignedBuffer(0), /multiple of 4096/);
    assert.throws(() => native.setDirectIo('x' as unknown as number, true), /fd a number/);
    assert.equal(native.setDirectIo(-1, true), false);
  });
});
