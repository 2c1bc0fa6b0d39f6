#!/usr/bin/python3
"""Trains models/kjv-llama, the small trained Llama that ships with tensorzip (docs/METHODS.md,
"The reference model"): the demo's and the quality table's KL and top-1 columns measure what a
method costs a model that has learned something, which generated weights cannot show.

Dev tooling, not run in CI or at install. Needs Debian's packages only:
    apt-get install python3-torch bible-kjv libopenblas0  # OpenBLAS: ~20x faster training than the reference BLAS
    /usr/bin/python3 scripts/train-reference-model.py [--steps N] [--out models/kjv-llama]

The text is the King James Version of the Bible as Debian's bible-kjv-text package ships it
(printed by its `bible` program; the translation's copyright expired long ago). The Book of Ruth is
held out of training and written to eval.txt: the text the quality figures are measured on. The
Book of Jonah is held out too, as calibration.txt: the text `--target-bpw` plans with, so that no
figure is measured on the text it was planned on.

What it makes, all deterministic for a given --seed and torch build:
  - tokenizer.json: a byte-level BPE (GPT-2's byte map and pre-tokenizer), 384 ids: <unk>, <s>,
    </s>, the 256 bytes, then 125 merges learned from the training text.
  - model.safetensors (bf16) and config.json: Llama architecture with grouped-query attention
    (4 query heads sharing 2 key/value heads), RMSNorm, rotary embeddings, SwiGLU; about 2.0 M
    parameters, under 4 MB.
  - eval.txt, calibration.txt and README.md (license, shape, the held-out perplexity this script measured with
    the bf16 weights, which `tensorzip eval` must reproduce).
"""
import argparse
import json
import math
import os
import re
import struct
import subprocess
import time

import torch
import torch.nn.functional as F

SHAPE = dict(hidden=256, intermediate=512, layers=3, heads=4, kv_heads=2, vocab=384)
SPECIALS = ['<unk>', '<s>', '</s>']
BOS = 1
EPS = 1e-5
ROPE_THETA = 10000.0
HELD_OUT = 'Ruth'
CALIBRATION = 'Jonah'


# ---------------------------------------------------------------- text

def bible_text():
    """Verses, one per line, by book: [(book, [verse, ...]), ...]."""
    raw = subprocess.run(['bible', 'gen1:1-rev22:21'], check=True, capture_output=True, text=True).stdout
    books, book, verse = [], None, None
    for line in raw.splitlines():
        head = re.fullmatch(r'(\S.*) (\d+)', line)
        if head and not line.startswith(' '):
            name = head.group(1)
            if book is None or book[0] != name:
                book = (name, [])
                books.append(book)
            continue
        start = re.match(r'\s+\d+ (.*)', line)
        if start:
            verse = [start.group(1)]
            book[1].append(verse)
        elif line.strip() and verse is not None:
            verse.append(line.strip())
    return [(name, [' '.join(v) for v in verses]) for name, verses in books]


# ---------------------------------------------------------------- tokenizer

def byte_symbols():
    """GPT-2's reversible byte -> printable character map (as lib/tools/generate-tokenizer.ts)."""
    direct = list(range(0x21, 0x7f)) + list(range(0xa1, 0xad)) + list(range(0xae, 0x100))
    out, extra = [], 0
    for b in range(256):
        if b in direct:
            out.append(chr(b))
        else:
            out.append(chr(256 + extra))
            extra += 1
    return out


# GPT-2's pre-tokenizer regex, with \p{L} and \p{N} spelled for ASCII (the text is ASCII).
PRETOKEN = re.compile(r"'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+")


def words_of(text):
    sym = byte_symbols()
    return [''.join(sym[b] for b in w.encode('utf-8')) for w in PRETOKEN.findall(text)]


def train_bpe(text, merges_wanted):
    counts = {}
    for w in words_of(text):
        counts[w] = counts.get(w, 0) + 1
    words = {w: list(w) for w in counts}
    merges = []
    for _ in range(merges_wanted):
        pairs = {}
        for w, n in counts.items():
            s = words[w]
            for a, b in zip(s, s[1:]):
                pairs[(a, b)] = pairs.get((a, b), 0) + n
        if not pairs:
            break
        best = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))[0]  # ties: the larger pair, deterministic
        merges.append(best)
        for w, s in words.items():
            i, out = 0, []
            while i < len(s):
                if i + 1 < len(s) and (s[i], s[i + 1]) == best:
                    out.append(s[i] + s[i + 1])
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            words[w] = out
    return merges


def tokenizer_json(merges):
    vocab = {s: i for i, s in enumerate(SPECIALS)}
    for b, s in enumerate(byte_symbols()):
        vocab[s] = len(SPECIALS) + b
    for a, b in merges:
        vocab[a + b] = len(vocab)
    special = lambda i, c: dict(id=i, content=c, single_word=False, lstrip=False, rstrip=False, normalized=False, special=True)
    byte_level = dict(type='ByteLevel', add_prefix_space=False, trim_offsets=True, use_regex=True)
    bos = {'SpecialToken': {'id': '<s>', 'type_id': 0}}
    return dict(
        version='1.0', truncation=None, padding=None,
        added_tokens=[special(i, c) for i, c in enumerate(SPECIALS)],
        normalizer=None, pre_tokenizer=byte_level,
        post_processor=dict(type='TemplateProcessing',
                            single=[bos, {'Sequence': {'id': 'A', 'type_id': 0}}],
                            pair=[bos, {'Sequence': {'id': 'A', 'type_id': 0}}, {'Sequence': {'id': 'B', 'type_id': 1}}],
                            special_tokens={'<s>': dict(id='<s>', ids=[BOS], tokens=['<s>'])}),
        decoder=byte_level,
        model=dict(type='BPE', dropout=None, unk_token=None, continuing_subword_prefix=None, end_of_word_suffix=None,
                   fuse_unk=False, byte_fallback=False, vocab=vocab, merges=[f'{a} {b}' for a, b in merges]),
    ), vocab


def encode(text, merges, vocab):
    """BPE as the tokenizers library applies it: lowest-rank merge first, per pre-token."""
    rank = {m: i for i, m in enumerate(merges)}
    cache, ids = {}, [BOS]
    for w in words_of(text):
        if w not in cache:
            s = list(w)
            while len(s) > 1:
                best = min(range(len(s) - 1), key=lambda i: rank.get((s[i], s[i + 1]), math.inf))
                if (s[best], s[best + 1]) not in rank:
                    break
                s[best:best + 2] = [s[best] + s[best + 1]]
            cache[w] = [vocab[x] for x in s]
        ids.extend(cache[w])
    return ids


# ---------------------------------------------------------------- model (Hugging Face Llama's layout)

class Llama(torch.nn.Module):
    def __init__(self, s):
        super().__init__()
        h, i, hd = s['hidden'], s['intermediate'], s['hidden'] // s['heads']
        self.s, self.hd = s, hd
        lin = lambda o, n: torch.nn.Linear(n, o, bias=False)
        self.embed = torch.nn.Embedding(s['vocab'], h)
        self.layers = torch.nn.ModuleList()
        for _ in range(s['layers']):
            self.layers.append(torch.nn.ModuleDict(dict(
                q=lin(s['heads'] * hd, h), k=lin(s['kv_heads'] * hd, h), v=lin(s['kv_heads'] * hd, h), o=lin(h, s['heads'] * hd),
                gate=lin(i, h), up=lin(i, h), down=lin(h, i))))
            self.layers[-1].n1 = torch.nn.Parameter(torch.ones(h))
            self.layers[-1].n2 = torch.nn.Parameter(torch.ones(h))
        self.norm = torch.nn.Parameter(torch.ones(h))
        self.head = lin(s['vocab'], h)
        for p in self.parameters():
            if p.dim() == 2:
                torch.nn.init.normal_(p, std=0.02)

    @staticmethod
    def rms(x, w):
        return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS))

    def rope(self, x, T):
        inv = ROPE_THETA ** (-torch.arange(0, self.hd, 2, dtype=torch.float32) / self.hd)
        ang = torch.arange(T, dtype=torch.float32)[:, None] * inv[None, :]
        cos, sin = torch.cat([ang.cos()] * 2, -1), torch.cat([ang.sin()] * 2, -1)
        half = self.hd // 2
        rot = torch.cat([-x[..., half:], x[..., :half]], -1)
        return x * cos + rot * sin

    def forward(self, ids):
        B, T = ids.shape
        s, hd = self.s, self.hd
        x = self.embed(ids)
        for L in self.layers:
            a = self.rms(x, L.n1)
            q = self.rope(L['q'](a).view(B, T, s['heads'], hd).transpose(1, 2), T)
            k = self.rope(L['k'](a).view(B, T, s['kv_heads'], hd).transpose(1, 2), T)
            v = L['v'](a).view(B, T, s['kv_heads'], hd).transpose(1, 2)
            rep = s['heads'] // s['kv_heads']
            k, v = k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)
            att = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
            att = att.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float('-inf')).softmax(-1)
            x = x + L['o']((att @ v).transpose(1, 2).reshape(B, T, -1))
            m = self.rms(x, L.n2)
            x = x + L['down'](F.silu(L['gate'](m)) * L['up'](m))
        return self.head(self.rms(x, self.norm))

    def tensors(self):
        """Hugging Face names -> tensors."""
        out = {'model.embed_tokens.weight': self.embed.weight}
        names = dict(q='self_attn.q_proj', k='self_attn.k_proj', v='self_attn.v_proj', o='self_attn.o_proj',
                     gate='mlp.gate_proj', up='mlp.up_proj', down='mlp.down_proj')
        for l, L in enumerate(self.layers):
            out[f'model.layers.{l}.input_layernorm.weight'] = L.n1
            out[f'model.layers.{l}.post_attention_layernorm.weight'] = L.n2
            for key, name in names.items():
                out[f'model.layers.{l}.{name}.weight'] = L[key].weight
        out['model.norm.weight'] = self.norm
        out['lm_head.weight'] = self.head.weight
        return out


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().to(torch.bfloat16).contiguous()
        data = t.view(torch.int16).numpy().tobytes()
        header[name] = dict(dtype='BF16', shape=list(t.shape), data_offsets=[offset, offset + len(data)])
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * (-len(h) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h + b''.join(blobs))


def perplexity(model, ids, ctx):
    """As `tensorzip eval --ctx ctx` scores a text (lib/eval/chunks.ts, perplexity.ts): the text's
    tokens without a leading BOS, cut into whole chunks of ctx tokens, each one's first token
    replaced by BOS, the second half of each scored."""
    assert ids[0] != BOS
    nll, n = 0.0, 0
    with torch.no_grad():
        for c in range(len(ids) // ctx):
            chunk = torch.tensor([ids[c * ctx:(c + 1) * ctx]])
            chunk[0, 0] = BOS
            logits = model(chunk)[0].double()
            first = ctx // 2
            nll += F.cross_entropy(logits[first:ctx - 1], chunk[0, first + 1:], reduction='sum').item()
            n += ctx - 1 - first
    return math.exp(nll / n), n


def read_safetensors(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, h in header.items():
        if name != '__metadata__':
            s, e = h['data_offsets']
            out[name] = torch.frombuffer(bytearray(data[s:e]), dtype=torch.int16).view(torch.bfloat16).float().reshape(h['shape'])
    return out


def remeasure(folder):
    """Measures the held-out perplexity of a model folder this script wrote (its stored bf16
    weights), and rewrites the figures in its training.json and README.md."""
    model = Llama(SHAPE)
    weights = read_safetensors(os.path.join(folder, 'model.safetensors'))
    with torch.no_grad():
        for name, p in model.tensors().items():
            p.copy_(weights[name])
    tok = json.load(open(os.path.join(folder, 'tokenizer.json'), encoding='utf-8'))
    merges = [tuple(m.split(' ')) if isinstance(m, str) else tuple(m) for m in tok['model']['merges']]
    eval_ids = encode(open(os.path.join(folder, 'eval.txt'), encoding='utf-8').read(), merges, tok['model']['vocab'])
    ppl, scored = perplexity(model, eval_ids[1:], 256)
    print(f'held-out perplexity {ppl:.4f} over {scored} positions (ctx 256)')
    path = os.path.join(folder, 'training.json')
    training = json.load(open(path))
    training.update(eval_perplexity=round(ppl, 4), eval_scored=scored)
    with open(path, 'w') as f:
        json.dump(training, f, indent=2)
        f.write('\n')
    a = argparse.Namespace(**{k: training[k] for k in ('steps', 'batch', 'ctx', 'lr', 'seed')})
    with open(os.path.join(folder, 'README.md'), 'w') as f:
        f.write(model_readme(training['parameters'], a, training['final_loss'], ppl, scored, len(eval_ids) - 1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--remeasure', metavar='DIR', help='only measure the held-out perplexity of a model folder this script wrote, and update its figures')
    ap.add_argument('--steps', type=int, default=1600)
    ap.add_argument('--batch', type=int, default=32)
    ap.add_argument('--ctx', type=int, default=128)
    ap.add_argument('--lr', type=float, default=3e-3)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--threads', type=int, default=os.cpu_count())
    ap.add_argument('--out', default=os.path.join(os.path.dirname(__file__), '..', 'models', 'kjv-llama'))
    a = ap.parse_args()
    if a.remeasure:
        return remeasure(a.remeasure)
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    t0 = time.time()

    books = bible_text()
    book = lambda name: '\n'.join(v for n, verses in books if n == name for v in verses) + '\n'
    train_text = '\n'.join(v for name, verses in books if name not in (HELD_OUT, CALIBRATION) for v in verses) + '\n'
    eval_text, calibration_text = book(HELD_OUT), book(CALIBRATION)
    assert len(eval_text) > 1000 and len(calibration_text) > 1000
    merges = train_bpe(train_text, SHAPE['vocab'] - len(SPECIALS) - 256)
    tok, vocab = tokenizer_json(merges)
    ids = torch.tensor(encode(train_text, merges, vocab))
    eval_ids = encode(eval_text, merges, vocab)
    print(f'text: {len(train_text)} bytes train ({len(ids)} tokens), {len(eval_text)} held out ({HELD_OUT}, {len(eval_ids)} tokens); '
          f'tokenizer in {time.time() - t0:.0f} s', flush=True)

    model = Llama(SHAPE)
    params = sum(p.numel() for p in model.parameters())
    decay = [p for p in model.parameters() if p.dim() == 2]
    flat = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([dict(params=decay, weight_decay=0.1), dict(params=flat, weight_decay=0.0)], lr=a.lr, betas=(0.9, 0.95))
    warm = a.steps // 20
    g = torch.Generator().manual_seed(a.seed)
    for step in range(a.steps):
        lr = a.lr * min(1.0, (step + 1) / warm) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / a.steps)))
        for group in opt.param_groups:
            group['lr'] = lr
        starts = torch.randint(0, len(ids) - a.ctx, (a.batch,), generator=g)
        x = torch.stack([ids[s:s + a.ctx] for s in starts])
        x[:, 0] = BOS
        y = torch.stack([ids[s + 1:s + a.ctx + 1] for s in starts])
        loss = F.cross_entropy(model(x).view(-1, SHAPE['vocab']), y.view(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 100 == 0 or step == a.steps - 1:
            print(f'step {step} loss {loss.item():.3f} lr {lr:.2e} {time.time() - t0:.0f} s', flush=True)

    # Measure with the weights as stored (bf16), in f32 arithmetic.
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(torch.bfloat16).float())
    ppl, scored = perplexity(model, eval_ids[1:], 256)
    print(f'held-out perplexity {ppl:.4f} over {scored} positions (ctx 256)', flush=True)

    os.makedirs(a.out, exist_ok=True)
    write_safetensors(os.path.join(a.out, 'model.safetensors'), model.tensors())
    hd = SHAPE['hidden'] // SHAPE['heads']
    config = dict(architectures=['LlamaForCausalLM'], model_type='llama', hidden_size=SHAPE['hidden'],
                  intermediate_size=SHAPE['intermediate'], num_hidden_layers=SHAPE['layers'],
                  num_attention_heads=SHAPE['heads'], num_key_value_heads=SHAPE['kv_heads'], head_dim=hd,
                  vocab_size=SHAPE['vocab'], hidden_act='silu', rms_norm_eps=EPS, rope_theta=ROPE_THETA,
                  max_position_embeddings=1024, tie_word_embeddings=False, bos_token_id=BOS, eos_token_id=2,
                  torch_dtype='bfloat16')
    files = {
        'config.json': json.dumps(config, indent=2) + '\n',
        'tokenizer.json': json.dumps(tok, ensure_ascii=False) + '\n',
        'tokenizer_config.json': json.dumps(dict(add_bos_token=True, add_eos_token=False, bos_token='<s>', eos_token='</s>',
                                                 unk_token='<unk>', tokenizer_class='PreTrainedTokenizerFast',
                                                 model_max_length=1024), indent=2) + '\n',
        'eval.txt': eval_text,
        'calibration.txt': calibration_text,
    }
    for name, text in files.items():
        with open(os.path.join(a.out, name), 'w', encoding='utf-8') as f:
            f.write(text)
    with open(os.path.join(a.out, 'training.json'), 'w') as f:
        json.dump(dict(parameters=params, steps=a.steps, batch=a.batch, ctx=a.ctx, lr=a.lr, seed=a.seed,
                       final_loss=round(loss.item(), 4), eval_perplexity=round(ppl, 4), eval_ctx=256,
                       eval_scored=scored, torch=torch.__version__, seconds=round(time.time() - t0)), f, indent=2)
        f.write('\n')
    with open(os.path.join(a.out, 'README.md'), 'w') as f:
        f.write(model_readme(params, a, loss.item(), ppl, scored, len(eval_ids) - 1))
    print(f'{params} parameters written to {a.out} in {time.time() - t0:.0f} s')


def model_readme(params, a, loss, ppl, scored, eval_tokens):
    s = SHAPE
    return f"""# kjv-llama: tensorzip's reference model

A small Llama ({params:,} parameters, bf16) trained on the King James Version of the Bible, so
that tensorzip's demo and quality table (docs/METHODS.md) measure what a compression method costs
a model that has learned something.

- Shape: hidden {s['hidden']}, intermediate {s['intermediate']}, {s['layers']} layers, {s['heads']} query heads sharing
  {s['kv_heads']} key/value heads (head_dim {s['hidden'] // s['heads']}), vocabulary {s['vocab']} (byte-level BPE), untied
  embeddings, RMSNorm eps {EPS}, rope theta {ROPE_THETA:g}.
- Training: {a.steps} steps of AdamW (lr {a.lr:g}, cosine), batch {a.batch} x {a.ctx} tokens, seed {a.seed},
  torch {torch.__version__}; final training loss {loss:.3f}.
- eval.txt: the Book of Ruth ({eval_tokens} tokens), held out of training. Perplexity with these
  weights at ctx 256: {ppl:.4f} over {scored} scored positions (`tensorzip eval models/kjv-llama
  --text models/kjv-llama/eval.txt --ctx 256` reproduces it).
- calibration.txt: the Book of Jonah, also held out: the text `compress --target-bpw` plans with
  in the quality table (docs/METHODS.md), apart from the text its figures are measured on.
- Made by `/usr/bin/python3 scripts/train-reference-model.py --steps {a.steps}` (Debian's python3-torch).

## License

The text (the training data, and eval.txt) is the King James Version as Debian's bible-kjv-text
package ships it. Debian's copyright file for it says the copyright of the translation (made in
1611) has expired, and the data carries this legend, kept here as it asks:

    Bible Retrieval System, Chip Chapin, Hewlett Packard Company, 1989.
    This file is provided for unrestricted use provided that this legend is included on all
    tape media and as a part of the software program in whole or part. Users may copy,
    modify or distribute this file at will.

The weights, the tokenizer and the rest of this folder are released under tensorzip's MIT license.
"""


if __name__ == '__main__':
    main()
