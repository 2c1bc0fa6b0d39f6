// Which files of a model folder, besides its safetensors shards, a container carries. Carried
// files are stored as they are (LZMA only), so a checkpoint in another format next to the
// safetensors (pytorch_model.bin, the 16 GB original/consolidated.00.pth of a Llama-3 snapshot, a
// consolidated.safetensors the index does not list) would make the container about as big as
// that file, for weights the container already holds. Such files are skipped by default, with a
// note; config, tokenizer (tokenizer.model, *.json, *.txt, ...), README and the like are carried.
//
// Precedence, for each file that is not a shard (first rule that applies):
//   1. it matches an --include glob: carried;
//   2. it matches an --exclude glob: skipped;
//   3. it is a weight file in another format (weightFormat below): skipped;
//   4. carried.
// Globs are picomatch globs on the '/'-separated path inside the folder; one without a '/'
// matches the file name at any depth ('*.bin' also matches original/x.bin).
import picomatch from 'picomatch';

export interface FileSelection {
  /** Globs of files not to carry. */
  exclude?: string[];
  /** Globs of files to carry even when skipped by default or by an --exclude. */
  include?: string[];
}

export interface SkippedFile {
  path: string;
  bytes: number;
  why: string;
}

/** Checkpoint formats by extension: PyTorch, TensorFlow/Keras, Flax, GGUF/GGML, ONNX, TFLite,
 * rust-bert, NumPy, pickles, NeMo, Paddle, llamafile. */
const WEIGHT_EXTENSION = /\.(bin|pth|pt|ckpt|h5|hdf5|keras|msgpack|gguf|ggml|onnx|onnx_data|tflite|ot|pb|npz|npy|pkl|pickle|joblib|nemo|pdparams|llamafile)$/i;
/** TensorFlow checkpoints: model.ckpt.index, model.ckpt.data-00000-of-00001, variables.data-00000-of-00001. */
const TF_CHECKPOINT = /(\.ckpt\.|\.data-\d+-of-\d+$)/i;

/** Why a file that is not a shard is a weight file skipped by default, or undefined. `shardsFrom`:
 * what named the shards (the index, or model.safetensors), when something did. */
export function weightFormat(rel: string, shardsFrom?: string): string | undefined {
  const ext = WEIGHT_EXTENSION.exec(rel) ?? TF_CHECKPOINT.exec(rel);
  if (ext) return `weights in another format (${ext[0].startsWith('.data-') ? 'TensorFlow' : ext[0]})`;
  if (/\.safetensors$/i.test(rel)) return shardsFrom ? `safetensors not in the model's set (${shardsFrom})` : 'safetensors not in the model';
  return undefined;
}

export interface FileChooser {
  /** The user's word on a file: the first --include glob it matches, else the first --exclude. */
  rule(rel: string): { kind: 'include' | 'exclude'; glob: string } | undefined;
  /** The globs that matched no file so far, as the user wrote them ('--include "x"'). */
  unmatched(): string[];
}

export function fileChooser(select: FileSelection): FileChooser {
  const compile = (kind: 'include' | 'exclude') =>
    (select[kind] ?? []).map((glob) => {
      if (typeof glob !== 'string' || !glob) throw new Error(`--${kind}: an empty glob`);
      // By hand rather than picomatch's `basename` option, which stops globs with a '/' matching.
      const test = picomatch(glob, { dot: true });
      const match = glob.includes('/') ? test : (rel: string) => test(rel.slice(rel.lastIndexOf('/') + 1));
      return { kind, glob, match, used: false };
    });
  const rules = [...compile('include'), ...compile('exclude')];
  return {
    rule(rel) {
      let first: { kind: 'include' | 'exclude'; glob: string } | undefined;
      for (const r of rules)
        if (r.match(rel)) {
          r.used = true;
          first ??= { kind: r.kind, glob: r.glob };
        }
      return first;
    },
    unmatched: () => rules.filter((r) => !r.used).map((r) => `--${r.kind} ${JSON.stringify(r.glob)}`),
  };
}
