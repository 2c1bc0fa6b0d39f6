// A byte-level BPE tokenizer.json for generated checkpoints (the layout GPT-2, Llama 3 and Qwen2
// use): ids 0-2 are <unk>, <s> (BOS, prepended like Llama's) and </s>; then the 256 byte symbols;
// then a few merges of frequent English pairs, so tokenizing exercises real BPE merges.

/** GPT-2's reversible byte -> printable character map. */
function byteSymbols(): string[] {
  const direct: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) direct.push(b);
  for (let b = 0xa1; b <= 0xac; b++) direct.push(b);
  for (let b = 0xae; b <= 0xff; b++) direct.push(b);
  const out: string[] = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) out[b] = String.fromCodePoint(direct.includes(b) ? b : 256 + extra++);
  return out;
}

const MERGES = ['Ġ t', 'h e', 'i n', 'e r', 'a n', 'Ġ a', 'o n', 'Ġt he', 'r e', 'e n', 'Ġ s', 'Ġ w', 'a t', 'o r', 'e s', 'Ġ o', 'i s', 'in g', 'Ġ c', 'e d'];

/** Ids the tokenizer uses: the model's vocabulary must be at least this large. */
export const TOKENIZER_SIZE = 3 + 256 + MERGES.length;

export function byteLevelTokenizer(): { tokenizer: object; config: object } {
  const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  byteSymbols().forEach((s, b) => (vocab[s] = 3 + b));
  MERGES.forEach((m, i) => (vocab[m.replace(' ', '')] = 3 + 256 + i));
  const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(0, '<unk>'), special(1, '<s>'), special(2, '</s>')],
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder: byteLevel,
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, vocab, merges: MERGES },
  };
  const config = { add_bos_token: true, add_eos_token: false, bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>', tokenizer_class: 'PreTrainedTokenizerFast', model_max_length: 4096 };
  return { tokenizer, config };
}
