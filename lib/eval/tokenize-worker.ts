// The tokenizer run in a worker thread (lib/eval/tokens.ts tokenizeText): a tokenizer.json's
// pre-tokenizer regex can backtrack for ever on some text, and on the main thread that would
// also stop signals from being handled. The worker can be terminated at any point.
import { parentPort, workerData } from 'node:worker_threads';

export interface TokenizeRequest {
  text: string;
  tokenizer: unknown;
  config: unknown;
}

export type TokenizeReply = { ids: Uint32Array; bos?: number } | { error: string; loading: boolean };

async function tokenize({ text, tokenizer: json, config }: TokenizeRequest): Promise<TokenizeReply> {
  const { Tokenizer } = await import('@huggingface/tokenizers');
  let tokenizer: InstanceType<typeof Tokenizer>;
  try {
    tokenizer = new Tokenizer(json as object, config as object);
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e), loading: true };
  }
  try {
    const ids = Uint32Array.from(tokenizer.encode(text, { add_special_tokens: false }).ids);
    // What the tokenizer prepends when asked for special tokens (BOS for Llama, nothing for Qwen2).
    const plain: number[] = tokenizer.encode('a', { add_special_tokens: false }).ids;
    const special: number[] = tokenizer.encode('a', { add_special_tokens: true }).ids;
    const at = special.findIndex((_, i) => plain.every((p, j) => special[i + j] === p));
    return { ids, bos: at > 0 ? special[0] : undefined };
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e), loading: false };
  }
}

if (parentPort) void tokenize(workerData as TokenizeRequest).then((reply) => parentPort!.postMessage(reply));
