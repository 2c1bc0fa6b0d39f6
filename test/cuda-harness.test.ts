// The standalone CUDA check (built when nvcc is found). Without a GPU it must say so and exit 2;
// with one it must pass every check against the CPU reference.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { root } from './helpers';

const harness = path.join(root, 'build', 'Release', 'tensorzip_cuda_check');

describe('CUDA harness', () => {
  it('passes on a GPU, or reports cleanly that there is none', function () {
    if (!existsSync(harness)) this.skip(); // CPU-only build (no nvcc)
    const r = spawnSync(harness, ['--elements', '100003', '--seed', '1'], { encoding: 'utf8', timeout: 120000 });
    if (r.status === 2) {
      assert.match(r.stdout, /^no CUDA device: /);
      return;
    }
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /all CUDA checks passed/);
  });
});
