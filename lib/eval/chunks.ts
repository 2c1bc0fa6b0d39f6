// Evaluation input shared by `eval` and `imatrix`: the token stream of a text or id file, cut
// into non-overlapping chunks of --ctx tokens as llama.cpp's perplexity tool does (the first token
// of each chunk replaced by BOS when the tokenizer adds one), processed in groups small enough
// that every chunk's hidden states fit in memory together.
import type { LlamaConfig } from '../model/config';
import type { WeightReader } from '../model/weights';
import { checkVocabulary, readTokenIds, tokenizeText, TokenError, type TokenStream } from './tokens';

/** Exactly one of: a UTF-8 text file (tokenized with the model's tokenizer), a token-id file, or
 * the token ids themselves (library callers). */
export interface TokenInput {
  text?: string;
  tokens?: string;
  ids?: ArrayLike<number>;
}

export interface ChunkOptions {
  /** Tokens per chunk (default 512). */
  ctx?: number;
  /** Use at most this many chunks (default: every whole chunk of the input). */
  chunks?: number;
}

export const DEFAULT_CTX = 512;
/** Hidden states held at once per model; larger inputs run in several groups of chunks. */
const GROUP_BYTES = 512 * 2 ** 20;

export async function loadTokens(input: TokenInput, model: WeightReader, config: LlamaConfig, signal?: AbortSignal): Promise<TokenStream> {
  if ([input.text, input.tokens, input.ids].filter((x) => x !== undefined).length !== 1)
    throw new TokenError('give exactly one of a text file (--text), a token-id file (--tokens) or token ids');
  const stream = input.ids ? idStream(input.ids) : input.text ? await tokenizeText(input.text, model, signal) : await readTokenIds(input.tokens!);
  checkVocabulary(stream, config.vocab);
  if (stream.bos !== undefined && stream.bos >= config.vocab) throw new TokenError(`the tokenizer's BOS id ${stream.bos} is not below the vocabulary size ${config.vocab}`);
  return stream;
}

/** Token ids given directly: each must be an integer id (below the vocabulary: checked after). */
function idStream(ids: ArrayLike<number>): TokenStream {
  for (let i = 0; i < ids.length; i++)
    if (!Number.isInteger(ids[i]) || ids[i] < 0 || ids[i] > 0xffffffff) throw new TokenError(`token ids: element ${i} (${ids[i]}) is not a token id (an integer >= 0)`);
  return { ids: Uint32Array.from(ids), source: `${ids.length} token ids given` };
}

/** The chunks an evaluation runs on. */
export function chunkTokens(stream: TokenStream, { ctx = DEFAULT_CTX, chunks }: ChunkOptions): Uint32Array[] {
  if (!Number.isInteger(ctx) || ctx < 4) throw new TokenError(`--ctx must be an integer >= 4, got ${ctx}`);
  const available = Math.floor(stream.ids.length / ctx);
  if (available === 0) throw new TokenError(`${stream.source}: fewer tokens than one chunk of --ctx ${ctx}; use a longer text or a smaller --ctx`);
  const n = Math.min(available, chunks ?? available);
  return Array.from({ length: n }, (_, c) => {
    const chunk = stream.ids.slice(c * ctx, (c + 1) * ctx);
    if (stream.bos !== undefined) chunk[0] = stream.bos;
    return chunk;
  });
}

/** Consecutive groups of chunks whose hidden states (ctx × hidden f32 each) fit the group budget. */
export function chunkGroups(chunks: Uint32Array[], config: LlamaConfig): Uint32Array[][] {
  const perGroup = Math.max(1, Math.floor(GROUP_BYTES / (chunks[0].length * config.hidden * 4)));
  const groups: Uint32Array[][] = [];
  for (let i = 0; i < chunks.length; i += perGroup) groups.push(chunks.slice(i, i + perGroup));
  return groups;
}
