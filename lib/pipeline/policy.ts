// Which method each tensor gets (docs/METHODS.md, "Choosing a method per tensor"): user rules
// first (glob pattern -> spec, first match wins), then the defaults: 1-D tensors (norms, biases),
// tiny tensors and tensors a method cannot encode (dtype or shape; rule matches too) stay
// lossless; embeddings and lm_head get rtn:8 when the method is lossy.
import { readProblem, readRegularFile, withCode } from '../io/regular-file';
import picomatch from 'picomatch';
import type { Dtype } from '../io/dtypes';
import { parseStrictJson } from '../io/strict-json';
import { SpecError } from '../core/errors';
import { parseSpec, type MethodChoice } from '../methods/registry';

/** Tensors with fewer elements than this are stored lossless by default. */
export const TINY_TENSOR = 4096;
const EMBEDDING = /(^|\.)(embed_tokens|embeddings?|wte|wpe|lm_head)(\.|$)/;
const SAFER_SPEC = 'rtn:8';

export interface PolicyRule {
  pattern: string;
  choice: MethodChoice;
  matches: (name: string) => boolean;
}

export interface Assignment {
  choice: MethodChoice;
  /** Set when the default method was replaced, saying why. */
  note?: string;
}

/** Rules from a JSON object { "<glob>": "<spec>" }; every spec is checked now. */
export function parsePolicy(rules: Record<string, string>, where = 'policy'): PolicyRule[] {
  if (typeof rules !== 'object' || rules === null || Array.isArray(rules)) throw new SpecError(`${where}: must be a JSON object of "glob": "method spec"`);
  return Object.entries(rules).map(([pattern, spec]) => {
    if (typeof spec !== 'string') throw new SpecError(`${where}: the spec for ${JSON.stringify(pattern)} is not a string`);
    try {
      return { pattern, choice: parseSpec(spec), matches: picomatch(pattern, { dot: true }) };
    } catch (e) {
      throw new SpecError(`${where}: pattern ${JSON.stringify(pattern)}: ${e instanceof Error ? e.message : e}`);
    }
  });
}

export async function loadPolicyFile(file: string): Promise<Record<string, string>> {
  let text: string;
  try {
    text = await readRegularFile(file, 'utf8');
  } catch (e) {
    throw withCode(new SpecError(`${file}: cannot read policy file (${readProblem(e)})`), e);
  }
  try {
    // Strict: JSON.parse would keep only the last of two rules for one glob, silently.
    return parseStrictJson(text) as Record<string, string>;
  } catch (e) {
    throw new SpecError(`${file}: policy is not valid JSON (${e instanceof Error ? e.message : e})`);
  }
}

export function assign(t: { name: string; dtype: Dtype; shape: number[]; numel: number }, base: MethodChoice, rules: PolicyRule[]): Assignment {
  const a = assignUnresolved(t, base, rules);
  const { method } = a.choice;
  if (!method.resolve) return a;
  const params = method.resolve(a.choice.params, t.shape);
  return { ...a, choice: { method, params, spec: method.format(params) } };
}

function assignUnresolved(t: { name: string; dtype: Dtype; shape: number[]; numel: number }, base: MethodChoice, rules: PolicyRule[]): Assignment {
  const rule = rules.find((r) => r.matches(t.name));
  const wanted = rule ? rule.choice : base;
  if (!rule && wanted.method.lossy) {
    if (t.shape.length < 2) return { choice: parseSpec('lossless'), note: `${t.shape.length}-D tensor: stored lossless` };
    if (t.numel < TINY_TENSOR) return { choice: parseSpec('lossless'), note: `tiny tensor (${t.numel} elements): stored lossless` };
  }
  const why = wanted.method.unsupported(wanted.params, t.dtype, t.shape);
  if (why) return { choice: parseSpec('lossless'), note: `${why}: stored lossless` };
  if (rule || !wanted.method.lossy) return { choice: wanted };
  if (EMBEDDING.test(t.name)) {
    const safer = parseSpec(SAFER_SPEC);
    if (safer.spec !== wanted.spec) return { choice: safer, note: `embedding/lm_head: ${safer.spec} instead of ${wanted.spec}` };
  }
  return { choice: wanted };
}

/** `--method gguf:<type>`: containers that `tensorzip export` writes as llama.cpp block types
 * without re-quantizing (docs/METHODS.md, "GGUF presets"): the matrices at the type's spec, the
 * embeddings and lm_head at rtn:8:g32 (Q8_0) unless the user's own rules, which come first, say
 * otherwise. */
export const GGUF_PRESETS: Readonly<Record<string, string>> = { 'gguf:q8_0': 'rtn:8:g32', 'gguf:q5_0': 'rtn:5:g32', 'gguf:q4_0': 'rtn:4:g32', 'gguf:tq2_0': 'ternary:g256:p2' };
const GGUF_EMBEDDING_RULES = { '*embed_tokens*': 'rtn:8:g32', 'lm_head*': 'rtn:8:g32' };

/** A method and policy with a gguf preset expanded (anything else unchanged). `rows`: matrices
 * whose rows do not split into the type's blocks get `otherwise` instead (TQ2_0's 256 weights:
 * Q4_0, whose 32 fit more shapes, e.g. Qwen2-0.5B's 896 columns). */
export function expandPreset(method: string, policy: Record<string, string>): { method: string; policy: Record<string, string>; rows?: { multiple: number; otherwise: string } } {
  const spec = Object.hasOwn(GGUF_PRESETS, method) ? GGUF_PRESETS[method] : undefined;
  if (!spec) return { method, policy };
  const added = Object.entries(GGUF_EMBEDDING_RULES).filter(([glob]) => !Object.hasOwn(policy, glob));
  return { method: spec, policy: { ...policy, ...Object.fromEntries(added) }, ...(method === 'gguf:tq2_0' ? { rows: { multiple: 256, otherwise: 'rtn:4:g32' } } : {}) };
}
