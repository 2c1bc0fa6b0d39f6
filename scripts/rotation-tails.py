#!/usr/bin/env python3
"""Where `:rot` helps: the relative error and stored bits/weight of each method, with and without
the rotation, on three generated 1024x1024 bf16 matrices whose only difference is the shape of
their weight distribution: Gaussian, heavy-tailed (Student t, 4 degrees of freedom) and Gaussian
with 10 outlier columns 20x larger. Dev tooling for docs/METHODS.md ("Rotations"); needs numpy
and a built checkout (npm ci).

    python3 scripts/rotation-tails.py [--methods rtn:2:g32,rtn:4,...]
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.path.join(ROOT, 'dist', 'lib', 'cli.js')
METHODS = 'rtn:2:g32,rtn:3,rtn:4,ternary,seedlm:3,vptq:2'


def bf16_bytes(a):
    """Round f32 to bf16, nearest even (as tensorzip converts)."""
    u = a.astype(np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16).tobytes()


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, a in tensors.items():
        b = bf16_bytes(a)
        header[name] = {'dtype': 'BF16', 'shape': list(a.shape), 'data_offsets': [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header).encode()
    h += b' ' * (-len(h) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h + b''.join(blobs))


def matrices(seed=7, n=1024, sigma=0.02):
    rng = np.random.default_rng(seed)
    outliers = rng.standard_normal((n, n)) * sigma
    outliers[:, rng.choice(n, 10, replace=False)] *= 20
    return {
        'gaussian.weight': rng.standard_normal((n, n)) * sigma,
        'student4.weight': rng.standard_t(4, (n, n)) * sigma,
        'outlier-columns.weight': outliers,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--methods', default=METHODS)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix='tensorzip-rot-') as work:
        model = os.path.join(work, 'tails.safetensors')
        tensors = matrices()
        write_safetensors(model, tensors)
        names = list(tensors)
        print('method'.ljust(16) + ''.join(f'{n.split(".")[0]:>26}' for n in names))
        print(' ' * 16 + '     bits/w  rel.err' * len(names))
        for spec in args.methods.split(','):
            for s in (spec, spec + ':rot'):
                out = os.path.join(work, 'out.tzip')
                r = subprocess.run(['node', CLI, 'compress', model, '-m', s, '-o', out, '--force', '--json'], capture_output=True, text=True)
                if r.returncode:
                    sys.exit(r.stderr)
                by = {t['name']: t for t in json.loads(r.stdout)['tensors']}
                cells = ''.join(f'{8 * by[n]["storedBytes"] / tensors[n].size:>11.3f}{by[n]["metrics"]["relativeError"]:>9.4f}' + ' ' * 6 for n in names)
                print(s.ljust(16) + cells)


if __name__ == '__main__':
    main()
