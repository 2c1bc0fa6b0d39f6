// Method specs ('lossless', 'rtn:4:g32', ...) to methods with parsed parameters.
import { lossless } from './lossless';
import { type Method } from './method';
import { SpecError } from '../core/errors';
import { rotation, rotationSeed } from './rotation';
import { rtn } from './rtn';
import { seedlm } from './seedlm';
import { ternary } from './ternary';
import { vptq } from './vptq';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const METHODS: Record<string, Method<any>> = { lossless, rtn, ternary, seedlm, vptq };

export interface MethodChoice {
  method: Method<unknown>;
  params: unknown;
  /** Canonical spec. */
  spec: string;
}

export function methodNames(): string[] {
  return Object.keys(METHODS);
}

/** Parses a spec or throws a SpecError naming what is wrong. */
export function parseSpec(spec: string): MethodChoice {
  const [name, ...args] = spec.trim().split(':');
  // Specs come from files (containers, policies): 'constructor' must not find Object's.
  const method = Object.hasOwn(METHODS, name) ? METHODS[name] : undefined;
  if (!method) throw new SpecError(`unknown method '${name}' in spec '${spec}' (known: ${methodNames().join(', ')})`);
  // A trailing :rot (or :rot<seed>) rotates the weights for any lossy method (lib/methods/rotation.ts).
  const seed = rotationSeed(args[args.length - 1]);
  if (seed !== undefined) {
    if (!method.lossy) throw new SpecError(`:rot applies to lossy methods; ${name} stores the weights exactly`);
    const params = { method, inner: method.parse(args.slice(0, -1)), seed };
    return { method: rotation as Method<unknown>, params, spec: rotation.format(params) };
  }
  const params = method.parse(args);
  return { method, params, spec: method.format(params) };
}

/** A method spec's canonical form ('rtn:4' -> 'rtn:4:g32'), or a SpecError saying what is wrong:
 * the check compress makes of every spec before any work. */
export function validateSpec(spec: string): string {
  return parseSpec(spec).spec;
}
