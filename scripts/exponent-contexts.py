#!/usr/bin/env python3
"""Would conditioning the bf16 high-byte plane (sign, exponent, top mantissa bit) on a context code
it below the order-0 bound that the rANS stage reaches? Empirical entropies in bits per weight, over
every 2-D tensor of 4096 weights or more of a bf16 safetensors file: order 0 (what is stored today),
then conditioned on the previous weight's byte, on the byte 32 weights back (the same rANS lane),
and on one of 2, 4 or 8 column classes (columns ranked by their mean exponent; log2 of the class
count charged per column). The per-context frequency tables are not charged, so each figure is a
lower bound on what a coder with that context would store. Dev tooling for docs/METHODS.md ("rANS"); needs numpy.

    python3 scripts/exponent-contexts.py [models/kjv-llama/model.safetensors]
"""
import json
import os
import struct
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def bf16_matrices(path):
    with open(path, 'rb') as f:
        data = f.read()
    n = struct.unpack('<Q', data[:8])[0]
    header = json.loads(data[8:8 + n])
    for name, t in header.items():
        if name == '__metadata__' or t['dtype'] != 'BF16' or len(t['shape']) != 2:
            continue
        begin, end = t['data_offsets']
        a = np.frombuffer(data[8 + n + begin:8 + n + end], dtype=np.uint16).reshape(t['shape'])
        if a.size >= 4096:
            yield name, a


def bits(x):
    """Order-0 empirical entropy of x's values, in bits for all of x."""
    c = np.bincount(x.ravel(), minlength=256).astype(np.float64)
    p = c[c > 0] / c.sum()
    return -(p * np.log2(p)).sum() * x.size


def bits_given(x, ctx):
    return sum(bits(x[ctx == v]) for v in np.unique(ctx))


def column_classes(hi, k):
    mean = (hi & 0x7F).mean(axis=0)
    edges = np.quantile(mean, np.linspace(0, 1, k + 1)[1:-1])
    return np.broadcast_to(np.searchsorted(edges, mean), hi.shape)


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, 'models', 'kjv-llama', 'model.safetensors')
    rows = []
    for name, a in bf16_matrices(path):
        hi = (a >> 8).astype(np.int64)
        x = hi.ravel()
        row = {
            'order 0': bits(x),
            'previous': bits(x[:1]) + bits_given(x[1:], x[:-1]),
            '32 back': bits(x[:32]) + bits_given(x[32:], x[:-32]),
        }
        for k in (2, 4, 8):
            row[f'{k} column classes'] = bits_given(hi, column_classes(hi, k)) + int(np.log2(k)) * hi.shape[1]
        rows.append((name, hi.size, row))
    total = sum(n for _, n, _ in rows)
    print(f'{len(rows)} matrices, {total} weights: bits per weight of the high byte plane')
    for key in rows[0][2]:
        print(f'  {key:18s} {sum(r[key] for _, _, r in rows) / total:.4f}')
    print('per matrix:')
    for name, n, r in rows:
        print(f'  {name:42s} ' + '  '.join(f'{v / n:.3f}' for v in r.values()))


if __name__ == '__main__':
    main()
