// Bad input (docs/METHODS.md, "Bad input"): a corpus of crafted malformed safetensors files,
// model directories and containers. Each must give a clear one-line error naming the problem, a
// non-zero exit code, no crash, and no output (nor temp file) left behind.
import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { compress } from '../lib/pipeline/compress';
import { generateCheckpoint } from '../lib/tools/generate';
import { cliPath } from './helpers';
import { splitSafetensors, joinSafetensors, validSafetensors } from './malformed';

type Case = { name: string; make: (file: string) => Promise<void>; error: RegExp };

const st = (header: unknown, data = Buffer.alloc(0)) => joinSafetensors(Buffer.from(JSON.stringify(header)), data);
const f32 = (n: number, begin = 0) => ({ dtype: 'F32', shape: [n], data_offsets: [begin, begin + 4 * n] });

const safetensorsCases: Case[] = [
  { name: 'empty file', make: (f) => writeFile(f, ''), error: /too short to be safetensors \(0 bytes\)/ },
  { name: '5-byte file', make: (f) => writeFile(f, 'abcde'), error: /too short/ },
  { name: 'header length beyond the file', make: (f) => writeFile(f, Buffer.concat([Buffer.from([0xff, 0xff, 0, 0, 0, 0, 0, 0]), Buffer.from('{}')])), error: /not a safetensors file \(the header length its first 8 bytes give does not fit the file's 10 bytes\)$/ },
  { name: 'header length 0', make: (f) => writeFile(f, Buffer.alloc(16)), error: /not a safetensors file \(its header length is 0\)/ },
  // Files people give instead: named, and the first bytes never echoed (they may be a secret's).
  { name: 'a text file', make: (f) => writeFile(f, 'root:*:20000:0:99999:7:::\n'), error: /not a safetensors file \(the header length its first 8 bytes give does not fit the file's 26 bytes\)$/ },
  { name: 'a PyTorch zip checkpoint', make: (f) => writeFile(f, Buffer.concat([Buffer.from('PK\x03\x04', 'latin1'), Buffer.alloc(60)])), error: /a zip archive, not safetensors \(PyTorch saves \.bin\/\.pth checkpoints as zip archives\): convert it to safetensors first/ },
  { name: 'a pickle', make: (f) => writeFile(f, Buffer.concat([Buffer.from([0x80, 0x02, 0x7d, 0x71, 0x00, 0x28, 0x58, 0x05]), Buffer.alloc(40)])), error: /a Python pickle, not safetensors/ },
  { name: 'a JSON file', make: (f) => writeFile(f, JSON.stringify({ architectures: ['LlamaForCausalLM'], hidden_size: 4096 })), error: /a JSON file, not safetensors \(give the model folder or its \.safetensors files\)/ },
  { name: 'a GGUF file', make: (f) => writeFile(f, Buffer.concat([Buffer.from('GGUF', 'latin1'), Buffer.from([3, 0, 0, 0]), Buffer.alloc(64)])), error: /a GGUF file, not safetensors/ },
  { name: 'a header with a byte order mark', make: (f) => { const h = Buffer.from('\ufeff{}', 'utf8'); const n = Buffer.alloc(8); n.writeBigUInt64LE(BigInt(h.length)); return writeFile(f, Buffer.concat([n, h])); }, error: /the header starts with a UTF-8 byte order mark, which safetensors does not allow/ },
  {
    name: 'header over the 100 MB limit',
    make: async (f) => {
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(150_000_000n);
      await writeFile(f, b);
      await truncate(f, 160_000_000); // sparse
    },
    error: /not a safetensors file, or one whose header is over the 100000000-byte limit/,
  },
  { name: 'invalid JSON', make: (f) => writeFile(f, joinSafetensors(Buffer.from('{"a": '), Buffer.alloc(0))), error: /header is not valid JSON/ },
  { name: 'JSON array header', make: (f) => writeFile(f, st([1, 2])), error: /header is not a JSON object/ },
  { name: 'invalid UTF-8', make: (f) => writeFile(f, joinSafetensors(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]), Buffer.alloc(0))), error: /header is not valid UTF-8/ },
  { name: 'NaN literal in JSON', make: (f) => writeFile(f, joinSafetensors(Buffer.from('{"a": NaN}'), Buffer.alloc(0))), error: /not valid JSON \(unexpected "N"/ },
  {
    name: 'duplicate tensor names',
    make: (f) => writeFile(f, joinSafetensors(Buffer.from(`{"w":${JSON.stringify(f32(1))},"w":${JSON.stringify(f32(1, 4))}}`), Buffer.alloc(8))),
    error: /duplicate key "w"/,
  },
  { name: 'unknown dtype', make: (f) => writeFile(f, st({ w: { dtype: 'F128', shape: [1], data_offsets: [0, 16] } }, Buffer.alloc(16))), error: /tensor "w": unknown dtype "F128"/ },
  { name: 'missing dtype', make: (f) => writeFile(f, st({ w: { shape: [1], data_offsets: [0, 4] } }, Buffer.alloc(4))), error: /tensor "w": dtype is missing/ },
  { name: 'shape not an array', make: (f) => writeFile(f, st({ w: { dtype: 'F32', shape: 4, data_offsets: [0, 16] } }, Buffer.alloc(16))), error: /shape is missing or not an array/ },
  { name: 'negative dimension', make: (f) => writeFile(f, st({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, Buffer.alloc(4))), error: /shape \[-1\] has an invalid dimension/ },
  { name: 'fractional dimension', make: (f) => writeFile(f, st({ w: { dtype: 'F32', shape: [1.5], data_offsets: [0, 4] } }, Buffer.alloc(4))), error: /invalid dimension/ },
  { name: 'absurd shape (decompression bomb)', make: (f) => writeFile(f, st({ w: { dtype: 'F32', shape: [1e6, 1e6, 1e6], data_offsets: [0, 4] } }, Buffer.alloc(4))), error: /absurdly large/ },
  { name: 'data_offsets missing', make: (f) => writeFile(f, st({ w: { dtype: 'F32', shape: [1] } }, Buffer.alloc(4))), error: /data_offsets must be two non-negative integers/ },
  { name: 'three data_offsets', make: (f) => writeFile(f, st({ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4, 8] } }, Buffer.alloc(8))), error: /data_offsets must be two/ },
  { name: 'begin after end', make: (f) => writeFile(f, st({ w: { dtype: 'F32', shape: [1], data_offsets: [8, 4] } }, Buffer.alloc(8))), error: /data_offsets \[8, 4\] lie outside the data section/ },
  { name: 'offsets beyond the data', make: (f) => writeFile(f, st({ w: f32(4) }, Buffer.alloc(8))), error: /data_offsets \[0, 16\] lie outside the data section \(8 bytes\)/ },
  { name: 'truncated data section', make: async (f) => { await writeFile(f, st({ w: f32(1000) }, Buffer.alloc(4000))); await truncate(f, 2000); }, error: /lie outside the data section/ },
  { name: 'shape x dtype != byte length', make: (f) => writeFile(f, st({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 16] } }, Buffer.alloc(16))), error: /shape \[3\] of F32 needs 12 bytes but data_offsets span 16/ },
  { name: 'misaligned offset', make: (f) => writeFile(f, st({ a: { dtype: 'U8', shape: [2], data_offsets: [0, 2] }, w: f32(1, 2) }, Buffer.alloc(8))), error: /data offset 2 is not aligned to F32's 4 bytes/ },
  { name: 'overlapping tensors', make: (f) => writeFile(f, st({ a: f32(2), b: f32(2, 4) }, Buffer.alloc(16))), error: /tensors "a" and "b" overlap/ },
  { name: '__metadata__ not an object', make: (f) => writeFile(f, st({ __metadata__: 'x', w: f32(1) }, Buffer.alloc(4))), error: /__metadata__ is not an object/ },
  { name: '__metadata__ value not a string', make: (f) => writeFile(f, st({ __metadata__: { a: 1 }, w: f32(1) }, Buffer.alloc(4))), error: /__metadata__ value of "a" is not a string/ },
  { name: 'empty tensor name', make: (f) => writeFile(f, st({ '': f32(1) }, Buffer.alloc(4))), error: /a tensor has an empty name/ },
  { name: 'tensor entry not an object', make: (f) => writeFile(f, st({ w: 5 }, Buffer.alloc(4))), error: /tensor "w": entry is not an object/ },
  { name: 'no tensors', make: (f) => writeFile(f, st({ __metadata__: {} })), error: /the model has no tensors/ },
];

type DirCase = { name: string; make: (dir: string, model: string) => Promise<void>; error: RegExp };
const dirCases: DirCase[] = [
  { name: 'index naming a missing shard', make: async (d) => { await writeFile(path.join(d, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { w: 'gone.safetensors' } })); }, error: /shard gone\.safetensors does not exist/ },
  { name: 'index that is not JSON', make: async (d) => { await writeFile(path.join(d, 'model.safetensors.index.json'), '{'); }, error: /invalid index JSON/ },
  { name: 'index escaping the directory', make: async (d) => { await writeFile(path.join(d, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { w: '../x.safetensors' } })); }, error: /not a shard file name/ },
  {
    name: 'index disagreeing with the shards',
    make: async (d, model) => {
      await writeFile(path.join(d, 'model.safetensors'), await readFile(model));
      await writeFile(path.join(d, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { other: 'model.safetensors' } }));
    },
    error: /weight_map says "other" is in model\.safetensors, but it is not there/,
  },
  { name: 'directory without safetensors', make: async (d) => { await writeFile(path.join(d, 'config.json'), '{}'); }, error: /no \.safetensors files in this directory/ },
  {
    name: 'a tensor in two shards',
    make: async (d, model) => {
      await writeFile(path.join(d, 'a.safetensors'), await readFile(model));
      await writeFile(path.join(d, 'b.safetensors'), await readFile(model));
    },
    error: /tensor "model\.embed_tokens\.weight" also appears in a\.safetensors/,
  },
];

describe('bad input: every malformed file gets a clear error, a non-zero exit and no output', function () {
  this.timeout(120000);
  let dir: string;
  let model: string;
  let container: Buffer;
  let containerLzma: Buffer;

  const run = (args: string[]) => spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8' });
  async function expectRefused(args: string[], output: string, error: RegExp) {
    const r = run(args);
    assert.notEqual(r.status, 0, `exit status 0 for ${args.join(' ')}`);
    assert.equal(r.status, 1, `exit status ${r.status}: ${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `one-line error expected, got:\n${r.stderr}`);
    assert.match(lines[0], /^tensorzip: /);
    assert.match(lines[0], error);
    const left = (await readdir(path.dirname(output))).filter((f) => f.includes(path.basename(output)));
    assert.deepEqual(left, [], 'no output or temp file left');
  }

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'tz-bad-'));
    model = await validSafetensors(path.join(dir, 'valid.safetensors'));
    await compress(model, path.join(dir, 'valid.tzip'), { method: 'rtn:4' });
    container = await readFile(path.join(dir, 'valid.tzip'));
    await compress(model, path.join(dir, 'valid-lzma.tzip'), { method: 'rtn:4', coder: 'lzma' });
    containerLzma = await readFile(path.join(dir, 'valid-lzma.tzip'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  for (const c of safetensorsCases) {
    it(`safetensors: ${c.name}`, async () => {
      const file = path.join(dir, `${c.name.replace(/\W+/g, '_')}.safetensors`);
      await c.make(file);
      await expectRefused(['compress', file, '-o', path.join(dir, 'out.tzip')], path.join(dir, 'out.tzip'), c.error);
    });
  }

  for (const c of dirCases) {
    it(`model directory: ${c.name}`, async () => {
      const d = path.join(dir, c.name.replace(/\W+/g, '_'));
      await mkdir(d);
      await c.make(d, model);
      await expectRefused(['compress', d, '-o', path.join(dir, 'dir-out.tzip')], path.join(dir, 'dir-out.tzip'), c.error);
    });
  }

  it('model directory: nonexistent input', async () => {
    await expectRefused(['compress', path.join(dir, 'nope'), '-o', path.join(dir, 'nope.tzip')], path.join(dir, 'nope.tzip'), /nope: no such file or directory/);
  });

  // Containers: the valid one rewritten with one defect each.
  type ContainerCase = { name: string; mutate: (c: Buffer) => Buffer; error: RegExp; lzma?: boolean };
  const meta = (c: Buffer, edit: (m: any) => void) => splitSafetensors(c, (h) => { const m = JSON.parse(h.__metadata__.tensorzip); edit(m); h.__metadata__.tensorzip = JSON.stringify(m); });
  const firstCodedPiece = (m: any, codec: string) => m.tensors.find((t: any) => t.pieces.length && t.pieces[0][0].codec === codec);
  /** A stored stream flipped inside, its checksum made to match: the codec itself must notice. */
  const corruptInside = (codec: string, at: number) => (c: Buffer) => {
    const { header, dataStart } = headerOf(c);
    const m = JSON.parse(header.__metadata__.tensorzip);
    const t = firstCodedPiece(m, codec);
    const name = `${t.name}:tz:0:${t.streams[0]}`;
    const [b] = header[name].data_offsets;
    const out = Buffer.from(c);
    out[dataStart + b + at] ^= 0x10;
    t.pieces[0][0].crc32 = require('node:zlib').crc32(out.subarray(dataStart + b, dataStart + header[name].data_offsets[1]));
    header.__metadata__.tensorzip = JSON.stringify(m);
    return splitSafetensors(out, (h) => Object.assign(h, header));
  };
  const containerCases: ContainerCase[] = [
    { name: 'plain safetensors, no tensorzip metadata', mutate: (c) => splitSafetensors(c, (h) => delete h.__metadata__), error: /not a tensorzip container/ },
    { name: 'unsupported format version', mutate: (c) => meta(c, (m) => (m.formatVersion = 2)), error: /unsupported container format version 2 \(this tensorzip reads version 1\)/ },
    { name: 'metadata not JSON', mutate: (c) => splitSafetensors(c, (h) => (h.__metadata__.tensorzip = '{nope')), error: /container metadata is not valid JSON/ },
    { name: 'tensors not an array', mutate: (c) => meta(c, (m) => (m.tensors = {})), error: /tensors must be an array/ },
    { name: 'unknown method', mutate: (c) => meta(c, (m) => (m.tensors[0].method = 'vq:2')), error: /unknown method 'vq'/ },
    { name: 'rawBytes inconsistent with the shape', mutate: (c) => meta(c, (m) => (m.tensors[0].pieces[0][0].rawBytes += 1)), error: /rawBytes \d+ does not match the \d+ bytes its shape implies/ },
    { name: 'absurd shape', mutate: (c) => meta(c, (m) => (m.tensors[0].shape = [1e15])), error: /chunks do not cover 1000000000000000 elements/ },
    { name: 'file path escaping the output', mutate: (c) => meta(c, (m) => (m.source.shards[0].path = '../evil.safetensors')), error: /is not a safe relative path/ },
    { name: 'missing piece', mutate: (c) => splitSafetensors(c, (h) => delete h[Object.keys(h).find((k) => k.includes(':tz:0:codes'))!]), error: /piece ".*:tz:0:codes" is missing/ },
    { name: 'unexpected extra tensor', mutate: (c) => splitSafetensors(c, (h) => (h.extra = { dtype: 'U8', shape: [0], data_offsets: [0, 0] })), error: /unexpected tensor "extra"/ },
    { name: 'piece size disagreeing with the metadata', mutate: (c) => meta(c, (m) => (firstCodedPiece(m, 'rans').pieces[0][0].bytes += 1)), error: /metadata says \d+ bytes of U8/ },
    { name: 'truncated container', mutate: (c) => c.subarray(0, c.length - 100), error: /lie outside the data section/ },
    {
      name: 'corrupted piece data (checksum)',
      mutate: (c) => {
        const out = Buffer.from(c);
        out[out.length - 3] ^= 0xff;
        return out;
      },
      error: /checksum mismatch in piece .* \(corrupted container\)/,
    },
    { name: 'corrupted xz stream with a matching checksum (xz CRC)', mutate: corruptInside('xz', 20), error: /\(corrupted container\)/, lzma: true },
    { name: 'corrupted rANS frequency table with a matching checksum', mutate: corruptInside('rans', 45), error: /rANS piece: .*\(corrupted container\)/ },
    { name: 'corrupted rANS words with a matching checksum', mutate: corruptInside('rans', 900), error: /rANS piece: block 0 does not decode.*\(corrupted container\)/ },
  ];

  for (const c of containerCases) {
    it(`container: ${c.name}`, async () => {
      const file = path.join(dir, `${c.name.replace(/\W+/g, '_')}.tzip`);
      await writeFile(file, c.mutate(c.lzma ? containerLzma : container));
      await expectRefused(['decompress', file, '-o', path.join(dir, 'dec-out.safetensors')], path.join(dir, 'dec-out.safetensors'), c.error);
    });
  }

  it('a container cannot be decompressed over a non-empty directory', async () => {
    const d = await generateCheckpoint(path.join(dir, 'gen'), { hidden: 64, intermediate: 176, vocab: 256, layers: 1 });
    await compress(d.dir, path.join(dir, 'gen.tzip'));
    await mkdir(path.join(dir, 'full'));
    await writeFile(path.join(dir, 'full', 'x'), 'x');
    const r = run(['decompress', path.join(dir, 'gen.tzip'), '-o', path.join(dir, 'full')]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /exists and is not empty \(use -f\/--force to replace it\)/);
    assert.deepEqual(await readdir(path.join(dir, 'full')), ['x']);
  });

  it('a FIFO, socket-like or device path is refused before it is opened, by every command that reads one (no hang)', async () => {
    const fifo = path.join(dir, 'pipe.safetensors');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    const out = path.join(dir, 'fifo-out.tzip');
    const tzip = path.join(dir, 'valid.tzip');
    // spawnSync's timeout kills a command that would block on the FIFO: the test fails, it does not hang.
    const refused = (args: string[], error: RegExp) => {
      const r = spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8', timeout: 30000 });
      assert.equal(r.signal, null, `${args.join(' ')} blocked`);
      assert.notEqual(r.status, 0, `${args.join(' ')}: exit 0`);
      assert.match(r.stderr, error, args.join(' '));
    };
    const kind = /pipe\.safetensors: (a FIFO, not a regular file|not a regular file or a folder)/;
    refused(['compress', fifo, '-o', out], kind);
    refused(['decompress', fifo, '-o', path.join(dir, 'fifo-out')], kind);
    refused(['inspect', fifo], kind);
    refused(['verify', tzip, '--against', fifo], kind);
    refused(['compress', model, '-m', 'rtn:4', '--importance', fifo, '-o', out], /cannot read importance file \(a FIFO, not a regular file\)/);
    refused(['compress', model, '--policy', fifo, '-o', out], /cannot read policy file \(a FIFO, not a regular file\)/);
    const tiny = (await generateCheckpoint(path.join(dir, 'fifo-model'), { hidden: 64, intermediate: 176, layers: 1, heads: 4, kvHeads: 2, vocab: 320, seed: 3 })).dir;
    refused(['eval', tiny, '--tokens', fifo], /cannot read token ids \(a FIFO, not a regular file\)/);
    refused(['merge', fifo, '-o', out], /cannot read part file \(a FIFO, not a regular file\)/);
    refused(['inspect', '/dev/zero'], /\/dev\/zero: a character device, not a regular file/);
    assert.ok(!existsSync(out));
  });

  it('the statistics pass over a huge (sparse) tensor stops at the first SIGINT', async () => {
    // 20 GB of f32 zeros in a sparse file: minutes of reading; the first signal must end it.
    const huge = path.join(dir, 'huge.safetensors');
    const n = 5 * 2 ** 30;
    const header = Buffer.from(JSON.stringify({ w: { dtype: 'F32', shape: [n / 4096, 4096], data_offsets: [0, 4 * n] } }).padEnd(96, ' '));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length));
    await writeFile(huge, Buffer.concat([len, header]));
    await truncate(huge, 8 + header.length + 4 * n);
    const out = path.join(dir, 'huge.tzip');
    const child = spawn(process.execPath, [cliPath, 'compress', huge, '-m', 'rtn:4', '-o', out], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    setTimeout(() => child.kill('SIGINT'), 1500);
    const status = await new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    assert.equal(status, 130, stderr);
    assert.match(stderr, /interrupted; no output was written/);
    assert.ok(!existsSync(out));
    await rm(huge);
  });

  it("--json runs get errors as a JSON object on stdout; Node's error text becomes the path and the problem in words", () => {
    const r = run(['compress', model, '-o', path.join(dir, 'j.tzip'), '-m', 'frob:3', '--json']);
    assert.equal(r.status, 2);
    assert.deepEqual(JSON.parse(r.stdout), { error: { message: "unknown method 'frob' in spec 'frob:3' (known: lossless, rtn, ternary, seedlm, vptq)", kind: 'SpecError', exitCode: 2 } });
    const missing = path.join(dir, 'missing.tzip');
    const m = run(['inspect', missing, '--json']);
    assert.equal(m.status, 1);
    assert.deepEqual(JSON.parse(m.stdout).error, { message: `${missing}: no such file`, kind: 'Error', code: 'ENOENT', exitCode: 1 });
    assert.equal(m.stderr.trim(), `tensorzip: ${missing}: no such file`);
  });

  it('usage errors exit with 2', () => {
    for (const args of [['generate', path.join(dir, 'g3'), '--heads', '3'], ['compress', model, '-o', path.join(dir, 'u.tzip'), '--queue', 'redis://127.0.0.1:1', '--queue-name', 'a b'], ['compress', model, '-o', path.join(dir, 'u.tzip'), '-m', 'rtn:1'], ['compress', model, '-o', path.join(dir, 'u.tzip'), '--lzma', 'max'], ['compress', model], ['nonsense']]) {
      const r = run(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    }
  });
});

function headerOf(c: Buffer): { header: any; dataStart: number } {
  const n = Number(c.readBigUInt64LE(0));
  return { header: JSON.parse(c.subarray(8, 8 + n).toString('utf8')), dataStart: 8 + n };
}
