// The library as a caller sees it: one progress shape for every long operation, error classes
// and codes a caller can test for, the spec validator and presets, token ids given directly.
import { strict as assert } from 'node:assert';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import * as api from '../lib/index';

describe('the library API', function () {
  this.timeout(60000);
  let dir: string, model: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'tz-api-'));
    model = (await api.generateCheckpoint(path.join(dir, 'm'), { hidden: 64, intermediate: 176, layers: 1, heads: 4, kvHeads: 2, vocab: 256 })).dir;
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('compress, decompress, verify and evaluate report progress in one shape', async () => {
    const seen: Record<string, api.Progress[]> = { compress: [], decompress: [], verify: [], evaluate: [] };
    const tzip = path.join(dir, 'p.tzip');
    await api.compress(model, tzip, { method: 'rtn:4', onProgress: (p) => seen.compress.push(p) });
    await api.decompress(tzip, path.join(dir, 'back'), { onProgress: (p) => seen.decompress.push(p) });
    await api.verify(tzip, model, { onProgress: (p) => seen.verify.push(p) });
    await api.evaluate(tzip, { ids: Array.from({ length: 64 }, (_, i) => (i * 7) % 256) }, { ctx: 32, onProgress: (p) => seen.evaluate.push(p) });
    const units = { compress: 'bytes', decompress: 'tensors', verify: 'tensors', evaluate: 'steps' };
    for (const [op, list] of Object.entries(seen)) {
      assert.ok(list.length > 0, op);
      for (const p of list) {
        assert.deepEqual(Object.keys(p).filter((k) => ['done', 'total', 'unit', 'item'].includes(k)).sort(), ['done', 'item', 'total', 'unit'], op);
        assert.equal(p.unit, units[op as keyof typeof units], op);
        assert.ok(p.done >= 0 && p.done <= p.total && typeof p.item === 'string', `${op}: ${JSON.stringify(p)}`);
      }
      assert.equal(list.at(-1)!.done, list.at(-1)!.total, `${op} ends at its total`);
    }
  });

  it('evaluate takes token ids directly, with the same result as an id file', async () => {
    const ids = Array.from({ length: 96 }, (_, i) => (i * 13 + 5) % 256);
    const file = path.join(dir, 'ids.json');
    await writeFile(file, JSON.stringify(ids));
    const a = await api.evaluate(model, { ids }, { ctx: 32 });
    const b = await api.evaluate(model, { tokens: file }, { ctx: 32 });
    assert.equal(a.perplexity, b.perplexity);
    await assert.rejects(api.evaluate(model, { ids: [1, -2, 3] }, { ctx: 32 }), (e: Error) => e instanceof api.TokenError && /element 1 \(-2\) is not a token id/.test(e.message));
    await assert.rejects(api.evaluate(model, { ids, tokens: file }, { ctx: 32 }), api.TokenError);
  });

  it('exports every error class it throws, keeps the code of I/O errors, and validates specs', async () => {
    await assert.rejects(api.compress(model, path.join(dir, 'x.tzip'), { method: 'frob:2' }), api.SpecError);
    await assert.rejects(api.compress(model, path.join(dir, 'x.tzip'), { method: 'rtn:4', importance: path.join(dir, 'none.safetensors') }), (e: NodeJS.ErrnoException) => e.code === 'ENOENT' && /cannot read importance file \(no such file\)/.test(e.message));
    await assert.rejects(api.inspect(path.join(dir, 'm', 'config.json')), api.FormatError);
    for (const cls of [api.AbortError, api.FormatError, api.JsonError, api.RunMismatchError, api.SpecError, api.ConfigError, api.TokenError]) assert.equal(typeof cls, 'function');
    assert.equal(api.validateSpec('rtn:4'), 'rtn:4:g32');
    assert.throws(() => api.validateSpec('rtn:1'), api.SpecError);
    assert.ok(api.METHOD_PRESETS.includes('rtn:4') && api.METHOD_PRESETS.every((s) => api.validateSpec(s)));
  });
});
