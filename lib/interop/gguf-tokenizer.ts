// A Hugging Face tokenizer.json as GGUF tokenizer metadata (docs/FORMAT.md, "GGUF export"):
// byte-level BPE vocabularies (GPT-2 style, Llama 3, Qwen2) as llama.cpp's 'gpt2' model with
// their merges and the pre-tokenizer llama.cpp knows by name; SentencePiece-style BPE (Llama 2,
// Mistral: ▁ for spaces, byte fallback) as its 'llama' model, whose merge order is carried by
// the token scores.
import { parseJsonFile } from '../io/strict-json';
import type { GgufValue } from './gguf';

/** llama.cpp's token types. */
const NORMAL = 1, UNKNOWN = 2, CONTROL = 3, USER_DEFINED = 4, BYTE = 6;

/** The splitting regexes of Split pre-tokenizers llama.cpp implements, by its name (a ByteLevel
 * pre-tokenizer with use_regex splits as GPT-2: 'gpt-2'). */
const SPLIT_REGEXES: Record<string, string> = {
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+": 'llama-bpe',
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+": 'qwen2',
};

type Json = Record<string, unknown>;

/** llama.cpp's name for the pre-tokenizer, or an error naming what it is. */
function preTokenizer(pre: unknown): string {
  const p = (pre ?? {}) as Json;
  if (p.type === 'ByteLevel' && p.use_regex !== false) return 'gpt-2';
  if (p.type === 'Sequence' && Array.isArray(p.pretokenizers)) {
    const steps = p.pretokenizers as Json[];
    const [split, byteLevel] = steps;
    // Exactly a Split that isolates the regex's matches, then bytes as characters (Llama 3, Qwen2).
    const regex = (split?.pattern as Json | undefined)?.Regex;
    if (steps.length === 2 && split.type === 'Split' && split.behavior === 'Isolated' && split.invert === false && byteLevel.type === 'ByteLevel' && byteLevel.use_regex === false && typeof regex === 'string' && Object.hasOwn(SPLIT_REGEXES, regex))
      return SPLIT_REGEXES[regex];
    if (steps.length === 1 && split.type === 'ByteLevel' && split.use_regex !== false) return 'gpt-2';
  }
  throw new Error(`tokenizer.json: pre-tokenizer ${JSON.stringify(pre).slice(0, 200)} is not one llama.cpp implements by name (GPT-2 byte level, Llama 3, Qwen2)`);
}

/** The tokenizer.ggml.* metadata of a tokenizer.json (with tokenizer_config.json and config.json
 * for the special tokens), for a model of `vocab` embedding rows. */
export function ggufTokenizer(tokenizerJson: Buffer, tokenizerConfigJson: Buffer | undefined, config: Json, vocab: number): Array<[string, GgufValue]> {
  const t = parseJsonFile(tokenizerJson, 'tokenizer.json') as Json;
  const tc = tokenizerConfigJson ? (parseJsonFile(tokenizerConfigJson, 'tokenizer_config.json') as Json) : {};
  const model = (t.model ?? {}) as Json;
  if (model.type !== 'BPE') throw new Error(`tokenizer.json: model type ${JSON.stringify(model.type)} is not exported (byte-level BPE only)`);
  const spm = model.byte_fallback === true;
  if (spm) checkSentencePiece(t);
  else if (((t.decoder ?? {}) as Json).type !== 'ByteLevel') throw new Error('tokenizer.json: a BPE vocabulary that is neither byte-level nor SentencePiece-style (byte fallback) is not exported');

  const tokens: string[] = new Array(vocab);
  const types: number[] = new Array(vocab).fill(NORMAL);
  const put = (id: unknown, text: string, type: number) => {
    if (!Number.isInteger(id) || (id as number) < 0 || (id as number) >= vocab) throw new Error(`tokenizer.json: token ${JSON.stringify(text)} has id ${id}, outside the model's ${vocab} embedding rows`);
    if (tokens[id as number] !== undefined && tokens[id as number] !== text) throw new Error(`tokenizer.json: id ${id} is both ${JSON.stringify(tokens[id as number])} and ${JSON.stringify(text)}`);
    tokens[id as number] = text;
    types[id as number] = type;
  };
  for (const [text, id] of Object.entries((model.vocab ?? {}) as Record<string, unknown>)) put(id, text, spm && /^<0x[0-9A-F]{2}>$/.test(text) ? BYTE : NORMAL);
  for (const a of (t.added_tokens ?? []) as Json[]) put(a.id, String(a.content), a.special ? CONTROL : USER_DEFINED);
  if (spm && typeof model.unk_token === 'string' && tokens.includes(model.unk_token)) types[tokens.indexOf(model.unk_token)] = UNKNOWN;
  // Embedding rows past the vocabulary (padded to a round size) get placeholder tokens.
  for (let i = 0; i < vocab; i++) if (tokens[i] === undefined) put(i, `[PAD${i}]`, USER_DEFINED);

  const merges = ((model.merges ?? []) as unknown[]).map((m) => (Array.isArray(m) ? m.join(' ') : String(m)));
  const idOf = (v: unknown): number | undefined => {
    const text = typeof v === 'string' ? v : v && typeof v === 'object' ? (v as Json).content : undefined;
    const i = typeof text === 'string' ? tokens.indexOf(text) : -1;
    return i >= 0 ? i : undefined;
  };
  const special: Array<[string, number | undefined]> = [
    ['bos', typeof config.bos_token_id === 'number' ? config.bos_token_id : idOf(tc.bos_token)],
    ['eos', typeof config.eos_token_id === 'number' ? config.eos_token_id : idOf(tc.eos_token)],
    ['unknown', idOf(tc.unk_token)],
    ['padding', idOf(tc.pad_token)],
  ];
  const out: Array<[string, GgufValue]> = spm
    ? [
        ['tokenizer.ggml.model', { kind: 'string', value: 'llama' }],
        ['tokenizer.ggml.tokens', { kind: 'array', of: 'string', values: tokens }],
        ['tokenizer.ggml.scores', { kind: 'array', of: 'f32', values: mergeScores(tokens, merges) }],
        ['tokenizer.ggml.token_type', { kind: 'array', of: 'i32', values: types }],
        ['tokenizer.ggml.add_space_prefix', { kind: 'bool', value: true }],
      ]
    : [
        ['tokenizer.ggml.model', { kind: 'string', value: 'gpt2' }],
        ['tokenizer.ggml.pre', { kind: 'string', value: preTokenizer(t.pre_tokenizer) }],
        ['tokenizer.ggml.tokens', { kind: 'array', of: 'string', values: tokens }],
        ['tokenizer.ggml.token_type', { kind: 'array', of: 'i32', values: types }],
        ['tokenizer.ggml.merges', { kind: 'array', of: 'string', values: merges }],
      ];
  for (const [what, id] of special) if (id !== undefined) out.push([`tokenizer.ggml.${what}_token_id`, { kind: 'u32', value: id }]);
  if (typeof tc.add_bos_token === 'boolean') out.push(['tokenizer.ggml.add_bos_token', { kind: 'bool', value: tc.add_bos_token }]);
  if (typeof tc.add_eos_token === 'boolean') out.push(['tokenizer.ggml.add_eos_token', { kind: 'bool', value: tc.add_eos_token }]);
  return out;
}

/** SentencePiece-style BPE as llama.cpp's 'llama' tokenizer runs it: spaces as ▁ with one
 * prepended, no pre-tokenizer splitting, bytes as <0xXX> tokens. Anything else is refused. */
function checkSentencePiece(t: Json): void {
  const normalizers = (((t.normalizer ?? {}) as Json).normalizers ?? [t.normalizer]) as Json[];
  const prepends = normalizers.some((n) => n && n.type === 'Prepend' && n.prepend === '▁');
  const replaces = normalizers.some((n) => n && n.type === 'Replace' && (n.pattern as Json | undefined)?.String === ' ' && n.content === '▁');
  const m = (t.pre_tokenizer ?? {}) as Json;
  // A Metaspace pre-tokenizer that prepends ▁ and does not split on it does what those normalizers do.
  const metaspace = m.type === 'Metaspace' && m.replacement === '▁' && m.split === false && (m.prepend_scheme === 'always' || (m.prepend_scheme === undefined && m.add_prefix_space !== false));
  if (!metaspace && !(prepends && replaces && t.pre_tokenizer == null))
    throw new Error('tokenizer.json: a byte-fallback BPE vocabulary is exported as SentencePiece, which needs spaces as ▁ with one prepended and no splitting (a Prepend and a Replace normalizer, or a Metaspace pre-tokenizer with prepend_scheme always and split false)');
}

/** SentencePiece merges the adjacent pair whose joined token scores highest: a token's score is
 * minus the rank of the merge that makes it, so the merges apply in their order (tokens no merge
 * makes: below every merge). */
function mergeScores(tokens: string[], merges: string[]): number[] {
  const rank = new Map<string, number>();
  merges.forEach((m, r) => {
    const joined = m.replace(' ', '');
    if (!rank.has(joined)) rank.set(joined, r);
  });
  return tokens.map((text) => -(rank.get(text) ?? merges.length));
}
