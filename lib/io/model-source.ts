// An input model: a single .safetensors file, or a Hugging Face directory (model.safetensors, or
// shards listed by model.safetensors.index.json) with its other files (config, tokenizer, ...;
// which ones: lib/io/carried-files.ts). Opening validates every safetensors header and the index
// before any tensor data is read.
import { lstat, realpath, stat } from 'node:fs/promises';
import { readRegularFile } from './regular-file';
import * as path from 'node:path';
import { fileChooser, weightFormat, type FileSelection, type SkippedFile } from './carried-files';
import { listModelFolder } from './model-files';
import { parseStrictJson } from './strict-json';
import { SafetensorsFile, type TensorEntry } from './safetensors';
import { FormatError } from '../core/errors';

export interface Shard {
  /** Path relative to the model root ('' root for a single file: its base name). */
  relPath: string;
  file: SafetensorsFile;
  bytes: number;
}

export interface SourceTensor {
  shard: number;
  entry: TensorEntry;
}

export interface ModelSource {
  kind: 'file' | 'directory';
  root: string;
  shards: Shard[];
  /** Every tensor, shard by shard in data order. */
  tensors: SourceTensor[];
  /** Relative paths of the other files carried along (directory inputs), sorted. */
  extraFiles: string[];
  /** Their bytes together. */
  extraBytes: number;
  /** Files of the folder left out (weights in other formats, --exclude), sorted. */
  skipped: SkippedFile[];
  /** --include / --exclude globs that matched no file. */
  unmatched: string[];
  /** Size of every input file read: the numerator of the compression ratio (skipped files are
   * not part of what the container represents). */
  totalBytes: number;
  /** Files read through symlinks (path inside the model folder, or the file's name) and where
   * they really are, e.g. the blobs of a Hugging Face cache snapshot. */
  symlinks: Array<{ path: string; target: string }>;
  close(): Promise<void>;
}

const INDEX = 'model.safetensors.index.json';

/** A relative '/'-separated path that stays inside the model folder: no '.', '..' or empty
 * segment, not absolute, no backslash. Only whole segments count: 'model..v2.safetensors' is a
 * file name like any other. */
function isInsidePath(p: unknown): p is string {
  return typeof p === 'string' && p !== '' && !p.startsWith('/') && !p.includes('\\') && !p.includes('\0') &&
    p.split('/').every((s) => s !== '' && s !== '.' && s !== '..');
}

/** The index's weight_map (tensor -> shard file) and the shard files it names. Parsed strictly:
 * JSON.parse would keep the last of two entries for one tensor without a word. */
async function readIndex(root: string): Promise<{ shards: string[]; map: Record<string, string> }> {
  const file = path.join(root, INDEX);
  let index: unknown;
  try {
    index = parseStrictJson(await readRegularFile(file, 'utf8'));
  } catch (e) {
    throw new FormatError(file, `invalid index JSON (${e instanceof Error ? e.message : e})`);
  }
  const map = (index as { weight_map?: unknown })?.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) throw new FormatError(file, 'weight_map is missing or not an object');
  const names = new Set<string>();
  for (const [tensor, shard] of Object.entries(map)) {
    if (!isInsidePath(shard))
      throw new FormatError(file, `weight_map entry for ${JSON.stringify(tensor)} is not a shard file name`);
    names.add(shard);
  }
  return { shards: [...names].sort(), map: map as Record<string, string> };
}

export async function openModelSource(input: string, select: FileSelection = {}): Promise<ModelSource> {
  const info = await stat(input).catch(() => {
    throw new Error(`${input}: no such file or directory`);
  });
  if (!info.isDirectory() && !info.isFile()) throw new Error(`${input}: not a regular file or a folder`);
  let kind: ModelSource['kind'];
  let root: string;
  let shardNames: string[];
  const extraFiles: string[] = [];
  let extraBytes = 0;
  const skipped: SkippedFile[] = [];
  const symlinks: ModelSource['symlinks'] = [];
  const chooser = fileChooser(select);
  let weightMap: Record<string, string> | undefined;
  if (info.isDirectory()) {
    kind = 'directory';
    root = input;
    const listed = await listModelFolder(root);
    const files = listed.map((f) => f.rel);
    // What names the shards; without either, every .safetensors file not excluded is one.
    const shardsFrom = files.includes(INDEX) ? INDEX : files.includes('model.safetensors') ? 'model.safetensors' : undefined;
    if (shardsFrom === INDEX) ({ shards: shardNames, map: weightMap } = await readIndex(root));
    else if (shardsFrom) shardNames = [shardsFrom];
    else shardNames = files.filter((f) => f.endsWith('.safetensors') && chooser.rule(f)?.kind !== 'exclude');
    if (!shardNames.length) throw new Error(`${input}: no .safetensors files in this directory`);
    for (const s of shardNames) if (!files.includes(s)) throw new FormatError(path.join(root, INDEX), `shard ${s} does not exist`);
    const shardSet = new Set(shardNames);
    for (const f of listed) {
      const rule = chooser.rule(f.rel);
      if (shardSet.has(f.rel)) {
        if (rule?.kind === 'exclude') throw new Error(`${input}: --exclude ${JSON.stringify(rule.glob)} matches ${f.rel}, a shard of the model (named by ${shardsFrom}); the shards are always read`);
      } else {
        const why = rule ? (rule.kind === 'exclude' ? `--exclude ${JSON.stringify(rule.glob)}` : undefined) : weightFormat(f.rel, shardsFrom);
        if (why) {
          skipped.push({ path: f.rel, bytes: f.bytes, why });
          continue;
        }
      }
      // A broken entry matters only when it is read.
      if (f.problem) throw new Error(`${path.join(root, f.rel)}: ${f.problem}`);
      if (f.target) symlinks.push({ path: f.rel, target: f.target });
      if (shardSet.has(f.rel)) continue;
      extraFiles.push(f.rel);
      extraBytes += f.bytes;
    }
  } else {
    kind = 'file';
    root = path.dirname(input);
    shardNames = [path.basename(input)];
    if ((await lstat(input)).isSymbolicLink()) symlinks.push({ path: shardNames[0], target: await realpath(input) });
  }

  const shards: Shard[] = [];
  const close = async () => {
    await Promise.all(shards.map((s) => s.file.close()));
  };
  try {
    for (const rel of shardNames) {
      const file = await SafetensorsFile.open(path.join(root, rel));
      shards.push({ relPath: rel, file, bytes: file.header.fileSize });
    }
    const tensors: SourceTensor[] = [];
    const seen = new Map<string, string>();
    shards.forEach((s, i) => {
      for (const entry of s.file.header.tensors) {
        const other = seen.get(entry.name);
        if (other) throw new FormatError(path.join(root, s.relPath), `tensor ${JSON.stringify(entry.name)} also appears in ${other}`);
        seen.set(entry.name, s.relPath);
        tensors.push({ shard: i, entry });
      }
    });
    if (weightMap) {
      const map = weightMap;
      for (const [name, shard] of Object.entries(map))
        if (seen.get(name) !== shard) throw new FormatError(path.join(root, INDEX), `weight_map says ${JSON.stringify(name)} is in ${shard}, but it is not there`);
      if (Object.keys(map).length !== seen.size) throw new FormatError(path.join(root, INDEX), 'weight_map does not list every tensor of its shards');
    }
    const totalBytes = shards.reduce((a, s) => a + s.bytes, 0) + extraBytes;
    return { kind, root, shards, tensors, extraFiles, extraBytes, skipped, unmatched: chooser.unmatched(), totalBytes, symlinks, close };
  } catch (e) {
    await close();
    throw e;
  }
}
