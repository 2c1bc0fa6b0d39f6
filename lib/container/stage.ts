// The entropy stage (docs/METHODS.md, "The entropy stage") applied to every stored piece: rANS
// for the pieces of tensors and the LZMA stage (xz format) for text (carried files and shard
// headers) by default, or LZMA or nothing for every piece. A piece is kept coded only when that
// saves at least 1 %; pieces are coded in parallel.
import { runJob, type JobContext } from '../jobs';
import { takeBuffer, type BufferPool } from '../core/buffer-pool';
import { SpecError } from '../core/errors';
import type { SymbolModel } from '../methods/method';
import { native, type NativeDevice } from '../native';

export type LzmaSetting =
  | { mode: 'off' }
  /** The weights profile (binding/cpu/codec/lzma_codec.h); a large piece is first probed on its first
   * 256 KiB and stored raw if that shows no gain. */
  | { mode: 'auto' }
  /** Every piece compressed at this preset (0-9, 'e' suffix for extreme). */
  | { mode: 'preset'; preset: number; extreme: boolean };

export type Coder = 'rans' | 'lzma' | 'off';
export const CODERS: readonly Coder[] = ['rans', 'lzma', 'off'];

/** The coder of tensor pieces, and the LZMA setting of the pieces LZMA codes: every piece with
 * coder 'lzma', carried files and shard headers with 'rans'. */
export interface StageSetting {
  coder: Coder;
  lzma: LzmaSetting;
}

/** What a piece holds: its coder is chosen by that. */
export type PieceContent = 'tensor' | 'text';

export function parseLzma(s: string): LzmaSetting {
  if (s === 'off') return { mode: 'off' };
  if (s === 'auto') return { mode: 'auto' };
  const m = /^([0-9])(e?)$/.exec(s);
  if (!m) throw new SpecError(`--lzma must be auto, off or a preset 0-9 (optionally with e, e.g. 9e), got '${s}'`);
  return { mode: 'preset', preset: Number(m[1]), extreme: m[2] === 'e' };
}

export function formatLzma(s: LzmaSetting): string {
  return s.mode === 'preset' ? `${s.preset}${s.extreme ? 'e' : ''}` : s.mode;
}

/** --coder and --lzma: rANS by default; --lzma alone selects LZMA for every piece, as before
 * rANS existed (--lzma off: nothing coded). */
export function parseStage(coder: string | undefined, lzma: string | undefined): StageSetting {
  if (coder !== undefined && !(CODERS as readonly string[]).includes(coder)) throw new SpecError(`--coder must be ${CODERS.join(', ')}, got '${coder}'`);
  const l = parseLzma(lzma ?? 'auto');
  if (coder === 'off' && lzma !== undefined && l.mode !== 'off') throw new SpecError(`--coder off stores every piece raw: --lzma ${lzma} would not be used`);
  const c: Coder = (coder as Coder | undefined) ?? (lzma === undefined ? 'rans' : l.mode === 'off' ? 'off' : 'lzma');
  return { coder: c, lzma: c === 'off' ? { mode: 'off' } : l };
}

export interface StoredPiece {
  codec: 'raw' | 'xz' | 'rans';
  data: Uint8Array;
  rawBytes: number;
  /** The CRC-32 of data: its record's, when it is to be checked before decoding; the stage's
   * own, when it was just coded. */
  crc32?: number;
}

/** Elements whose byte planes (lib/methods/lossless.ts) are pieces first .. first + width - 1
 * of a compressPieces call, split in its job. */
export interface PlaneSplit {
  src: Uint8Array;
  width: number;
  rotate: boolean;
  first: number;
}

/** models[i]: how rANS models piece i (default: bytes, one context). With a device, the rANS
 * blocks are coded there (the frames are the same; xz stays on the CPU). splits: pieces to fill
 * first. Every stored piece comes with its CRC-32, computed on the job's threads. Coded pieces are
 * written into buffers from `buffers` (give them back once written), or fresh ones. */
export async function compressPieces(
  pieces: Uint8Array[],
  setting: StageSetting,
  content: PieceContent,
  threads: number,
  signal?: AbortSignal,
  models?: Array<SymbolModel | undefined>,
  device?: NativeDevice,
  splits: PlaneSplit[] = [],
  buffers?: BufferPool,
): Promise<StoredPiece[]> {
  const codec: 'rans' | 'xz' = setting.coder === 'rans' && content === 'tensor' ? 'rans' : 'xz';
  const lzma = setting.lzma;
  if (pieces.length === 0 || (codec === 'xz' && lzma.mode === 'off')) {
    for (const s of splits) native.bytePlanes({ mode: 'split', src: s.src, width: s.width, rotate: s.rotate, dst: pieces.slice(s.first, s.first + s.width) });
    return pieces.map((p) => ({ codec: 'raw', data: p, rawBytes: p.byteLength }));
  }
  const options =
    codec === 'rans'
      ? { codec, models: models && pieces.map((_, i) => models[i] ?? {}), threads, ...(device ? { device } : {}) }
      : lzma.mode === 'preset'
        ? { codec, preset: lzma.preset, extreme: lzma.extreme, threads }
        : { codec, weights: true, probe: true, threads };
  const outputs = pieces.map((p) => takeBuffer(buffers, p.byteLength));
  const { sizes, crc32 } = await runJob((progress) => native.encodePieces(pieces, outputs, { ...options, ...(splits.length ? { splits } : {}) }, progress), { signal }).catch((e) => {
    buffers?.give(...outputs);
    throw e;
  });
  return pieces.map((p, i) => {
    const size = sizes[i];
    if (size !== null) return { codec, data: outputs[i].subarray(0, size), rawBytes: p.byteLength, crc32: crc32[i] };
    buffers?.give(outputs[i]);
    return { codec: 'raw', data: p, rawBytes: p.byteLength, crc32: crc32[i] };
  });
}

/** Raw bytes of stored pieces; coded pieces must decode to exactly their recorded size. Pieces
 * with a crc32 are checked against it first, all of them on the job's threads (a mismatch rejects
 * with "piece i: checksum mismatch", i the piece's index here). With a device, the rANS blocks
 * decode there (the bytes are the same); with buffers, outputs come from that pool. */
export function decompressPieces(pieces: StoredPiece[], ctx: DecodeContext): Promise<Uint8Array[]> {
  return decodeJob(pieces, ctx);
}

/** The pieces, decoded, as the byte planes of elements of `width` bytes (lib/methods/lossless.ts),
 * merged into `dst` in the same job (checked, decoded and merged on the job's threads). */
export async function decodeMerged(pieces: StoredPiece[], merge: { width: number; rotate: boolean; dst: Uint8Array }, ctx: DecodeContext): Promise<Uint8Array> {
  const out = await decodeJob(pieces, ctx, merge);
  ctx.buffers?.give(...out.filter((o, i) => o !== pieces[i].data));
  return merge.dst;
}

type DecodeContext = Pick<JobContext, 'threads' | 'signal' | 'device' | 'buffers'>;

async function decodeJob(pieces: StoredPiece[], { threads, signal, device, buffers }: DecodeContext, merge?: { width: number; rotate: boolean; dst: Uint8Array }): Promise<Uint8Array[]> {
  // Decoders write every byte of their output (or fail): no zero-filling.
  const out = pieces.map((p) => (p.codec === 'raw' ? p.data : takeBuffer(buffers, p.rawBytes)));
  const checked = pieces.length > 0 && pieces.every((p) => p.crc32 !== undefined);
  // Raw pieces go to the job only to be checked or merged.
  const sent = pieces.map((p, i) => i).filter((i) => checked || merge || pieces[i].codec !== 'raw');
  if (sent.length) {
    const options = {
      codecs: sent.map((i) => pieces[i].codec),
      ...(checked ? { crc32: pieces.map((p) => p.crc32!) } : {}),
      ...(merge ? { merge } : {}),
      threads,
      ...(device ? { device } : {}),
    };
    const outputs = sent.map((i) => (pieces[i].codec === 'raw' ? EMPTY : out[i]));
    await runJob((progress) => native.decodePieces(sent.map((i) => pieces[i].data), outputs, options, progress), { signal });
  }
  return out;
}

const EMPTY = new Uint8Array(0);
