// The token stream an evaluation runs on: text tokenized with the model's own tokenizer.json
// (through @huggingface/tokenizers, offline), or token ids given directly: a JSON array, or a
// binary file of little-endian uint32 ids.
import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { AbortError } from '../core/errors';
import { readProblem, readRegularFile, withCode } from '../io/regular-file';
import { Rng } from '../core/random';
import type { WeightReader } from '../model/weights';
import type { TokenizeReply, TokenizeRequest } from './tokenize-worker';

export interface TokenStream {
  ids: Uint32Array;
  /** The token the tokenizer puts first (BOS), when it adds one: each chunk then starts with it. */
  bos?: number;
  /** How the ids were made, for reports. */
  source: string;
}

export class TokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenError';
  }
}

async function readInput(file: string, what: string): Promise<Buffer> {
  return readRegularFile(file).catch((e: NodeJS.ErrnoException) => {
    throw withCode(new TokenError(`${file}: cannot read ${what} (${readProblem(e)})`), e);
  });
}

/** How long tokenizing may take: generous for real text (tokenizers run at MB/s), short of
 * waiting for ever on a pre-tokenizer regex that backtracks catastrophically. */
export function tokenizeBudgetSeconds(textBytes: number): number {
  return 60 + 60 * (textBytes / 2 ** 20);
}

/** Text tokenized with the model's tokenizer.json (and tokenizer_config.json when present), in
 * a worker thread that is stopped on `signal` or when the budget runs out. */
export async function tokenizeText(file: string, model: WeightReader, signal?: AbortSignal, budgetSeconds?: number): Promise<TokenStream> {
  const text = (await readInput(file, 'text')).toString('utf8');
  const tokenizerJson = await model.file('tokenizer.json');
  if (!tokenizerJson) throw new TokenError(`${model.label}: no tokenizer.json to tokenize ${file} with (give token ids with --tokens instead)`);
  const configJson = await model.file('tokenizer_config.json');
  const parse = (b: Buffer, name: string) => {
    try {
      return JSON.parse(b.toString('utf8'));
    } catch (e) {
      throw new TokenError(`${model.label}: ${name} is not valid JSON (${e instanceof Error ? e.message : e})`);
    }
  };
  const request: TokenizeRequest = { text, tokenizer: parse(tokenizerJson, 'tokenizer.json'), config: configJson ? parse(configJson, 'tokenizer_config.json') : {} };
  const seconds = budgetSeconds ?? tokenizeBudgetSeconds(Buffer.byteLength(text));
  const reply = await inWorker(request, seconds, signal, file);
  if ('error' in reply)
    throw new TokenError(reply.loading ? `${model.label}: tokenizer.json could not be loaded (${reply.error})` : `${file}: the model's tokenizer failed on it (${reply.error})`);
  const { ids, bos } = reply;
  return { ids, bos, source: `${file} (${ids.length} tokens with the model's tokenizer${bos !== undefined ? `, BOS ${bos}` : ''})` };
}

function inWorker(request: TokenizeRequest, seconds: number, signal: AbortSignal | undefined, file: string): Promise<TokenizeReply> {
  signal?.throwIfAborted();
  return new Promise((resolve, reject) => {
    const worker = new Worker(path.join(__dirname, 'tokenize-worker.js'), { workerData: request });
    const stop = (e: unknown) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', aborted);
      void worker.terminate();
      reject(e);
    };
    const aborted = () => stop(new AbortError());
    const timer = setTimeout(
      () => stop(new TokenError(`${file}: tokenizing took longer than ${Math.round(seconds)} s, so it was stopped (the tokenizer's pre-tokenizer regex may backtrack without end on this text); give token ids with --tokens instead`)),
      seconds * 1000,
    );
    signal?.addEventListener('abort', aborted, { once: true });
    worker.once('message', (reply: TokenizeReply) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', aborted);
      void worker.terminate();
      resolve(reply);
    });
    worker.once('error', (e) => stop(new TokenError(`${file}: the tokenizer failed (${e.message})`)));
  });
}

/** Token ids from a .json array, or else a binary file of little-endian uint32 values. */
export async function readTokenIds(file: string): Promise<TokenStream> {
  const raw = await readInput(file, 'token ids');
  let ids: Uint32Array;
  if (file.endsWith('.json')) {
    let json: unknown;
    try {
      json = JSON.parse(raw.toString('utf8'));
    } catch (e) {
      throw new TokenError(`${file}: not valid JSON (${e instanceof Error ? e.message : e})`);
    }
    if (!Array.isArray(json)) throw new TokenError(`${file}: must hold a JSON array of token ids`);
    const bad = json.findIndex((x) => !Number.isInteger(x) || x < 0 || x > 0xffffffff);
    if (bad >= 0) throw new TokenError(`${file}: element ${bad} (${JSON.stringify(json[bad])}) is not a token id (an integer >= 0)`);
    ids = Uint32Array.from(json as number[]);
  } else {
    if (raw.length % 4) throw new TokenError(`${file}: ${raw.length} bytes is not a whole number of uint32 token ids`);
    ids = new Uint32Array(raw.length / 4);
    for (let i = 0; i < ids.length; i++) ids[i] = raw.readUInt32LE(4 * i);
  }
  return { ids, source: `${file} (${ids.length} token ids)` };
}

/** Throws when an id is outside the model's vocabulary. */
export function checkVocabulary(stream: TokenStream, vocab: number): void {
  const bad = stream.ids.findIndex((id) => id >= vocab);
  if (bad >= 0) throw new TokenError(`${stream.source}: token ${bad} is id ${stream.ids[bad]}, not below the model's vocabulary size ${vocab}`);
}

/** `count` token ids drawn uniformly below `vocab` from a seed, written as a binary id file: the
 * input of the demo's and the end-to-end benchmark's KL columns on generated (untrained) models,
 * for which no text is more meaningful than any other. */
export async function writeSeededTokens(file: string, count: number, vocab: number, seed: number): Promise<void> {
  const rng = new Rng(seed);
  const ids = Uint32Array.from({ length: count }, () => rng.u32() % vocab);
  await writeFile(file, new Uint8Array(ids.buffer));
}
