// The LZMA stage (docs/METHODS.md, "The LZMA stage") applied to every stored piece: xz format,
// a piece kept compressed only when that saves at least 1%, pieces compressed in parallel.
import { runJob } from '../jobs';
import { SpecError } from '../core/errors';
import { native } from '../native';

export type LzmaSetting =
  | { mode: 'off' }
  /** The weights profile (binding/cpu/codec/lzma_codec.h); a large piece is first probed on its first
   * 256 KiB and stored raw if that shows no gain. */
  | { mode: 'auto' }
  /** Every piece compressed at this preset (0-9, 'e' suffix for extreme). */
  | { mode: 'preset'; preset: number; extreme: boolean };

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

export interface StoredPiece {
  codec: 'raw' | 'xz';
  data: Uint8Array;
  rawBytes: number;
}

export async function compressPieces(pieces: Uint8Array[], setting: LzmaSetting, threads: number, signal?: AbortSignal): Promise<StoredPiece[]> {
  if (setting.mode === 'off' || pieces.length === 0) return pieces.map((p) => ({ codec: 'raw', data: p, rawBytes: p.byteLength }));
  const options = setting.mode === 'auto' ? { weights: true, probe: true, threads } : { preset: setting.preset, extreme: setting.extreme, threads };
  const out = await runJob((progress) => native.xzEncodeMany(pieces, options, progress), { signal });
  return pieces.map((p, i) => {
    const c = out[i];
    return c ? { codec: 'xz', data: c, rawBytes: p.byteLength } : { codec: 'raw', data: p, rawBytes: p.byteLength };
  });
}

/** Raw bytes of stored pieces; xz pieces must decode to exactly their recorded size. */
export async function decompressPieces(pieces: StoredPiece[], threads: number, signal?: AbortSignal): Promise<Uint8Array[]> {
  const out = pieces.map((p) => (p.codec === 'raw' ? p.data : new Uint8Array(p.rawBytes)));
  const xz = pieces.map((p, i) => i).filter((i) => pieces[i].codec === 'xz');
  if (xz.length)
    await runJob((progress) => native.xzDecodeMany(xz.map((i) => pieces[i].data), xz.map((i) => out[i]), { threads }, progress), { signal });
  return out;
}
