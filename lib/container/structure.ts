// The cross-checks between a container's records that each record's own validation cannot make.
// decompress writes what the shard records say: each shard's listed tensors into the file at its
// path, then each carried file. A tensor no shard lists, one listed twice or by another shard than
// its own, or two outputs at one path would make it drop or overwrite data without an error, so
// the reader refuses all of these before anything is decoded.
import { DTYPE_SIZES, numelOf } from '../io/dtypes';
import type { FileRecord, ShardRecord, TensorRecord } from './format';

export function validateStructure(
  kind: 'file' | 'directory', shards: ShardRecord[], tensors: TensorRecord[], files: FileRecord[], fail: (m: string) => never,
): void {
  const shardName = (i: number) => `shard ${i} (${JSON.stringify(shards[i].path)})`;
  if (!shards.length) fail('source.shards is empty');
  if (kind === 'file' && shards.length !== 1) fail(`a single-file container (source.kind "file") has exactly one shard, not ${shards.length}`);
  if (kind === 'file' && files.length) fail(`a single-file container (source.kind "file") carries no other files, but lists ${files.length}`);

  // Every tensor is listed by exactly the shard its record names, and tensors[] is the shards'
  // lists one after another (shard by shard in data order).
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const listedBy = new Map<string, number>();
  const order: string[] = [];
  shards.forEach((s, i) => {
    for (const name of s.tensors) {
      const t = byName.get(name);
      if (!t) fail(`${shardName(i)} lists tensor ${JSON.stringify(name)}, which the container does not hold`);
      const other = listedBy.get(name);
      if (other !== undefined) fail(`tensor ${JSON.stringify(name)} is listed ${other === i ? 'twice' : `by ${shardName(other)} and`} by ${shardName(i)}`);
      if (t!.shard !== i) fail(`tensor ${JSON.stringify(name)} belongs to ${shardName(t!.shard)} but is listed by ${shardName(i)}`);
      listedBy.set(name, i);
      order.push(name);
    }
  });
  for (const t of tensors) if (!listedBy.has(t.name)) fail(`tensor ${JSON.stringify(t.name)} is in no shard's list of tensors`);
  const at = tensors.findIndex((t, k) => t.name !== order[k]);
  if (at >= 0) fail(`tensors are not listed shard by shard in data order: tensors[${at}] is ${JSON.stringify(tensors[at].name)}, the shards list ${JSON.stringify(order[at])}`);

  // An exact shard is its stored header followed by its tensors' data, nothing else.
  shards.forEach((s, i) => {
    if (!s.header) return;
    if (s.header.path !== s.path) fail(`${shardName(i)}: its header record is for ${JSON.stringify(s.header.path)}`);
    const data = s.tensors.reduce((a, name) => {
      const t = byName.get(name)!;
      return a + numelOf(t.shape) * DTYPE_SIZES[t.dtype];
    }, 0);
    if (s.header.bytes + data !== s.bytes)
      fail(`${shardName(i)}: an exact layout is ${s.header.bytes} header bytes + ${data} data bytes, but the shard is recorded as ${s.bytes} bytes`);
  });

  // Every output path is written once, and none is also a directory of another.
  const outputs = new Map<string, string>();
  const claim = (p: string, what: string) => {
    const other = outputs.get(p);
    if (other) fail(`${other} and ${what} are both written to ${JSON.stringify(p)}`);
    outputs.set(p, what);
  };
  shards.forEach((s, i) => claim(s.path, shardName(i)));
  files.forEach((f, i) => claim(f.path, `files[${i}]`));
  for (const [p, what] of outputs) {
    const parts = p.split('/');
    for (let k = 1; k < parts.length; k++) {
      const dir = parts.slice(0, k).join('/');
      const file = outputs.get(dir);
      if (file) fail(`${file} is written to ${JSON.stringify(dir)}, which ${what} (${JSON.stringify(p)}) needs as a directory`);
    }
  }
}
