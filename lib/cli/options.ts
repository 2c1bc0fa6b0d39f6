// The one rule for option values: a parser that throws is a usage error (exit 2) whose message
// commander prints with the option's name; the value parsers of every command live here.
import { InvalidArgumentError } from 'commander';
import { parseDevice, type DeviceSpec } from '../device';
import { parseSpec } from '../methods/registry';
import { parseShard } from '../parts/shard';
import { parseQueueTarget } from '../queue/target';

/** `parse` as a commander option parser: any error it throws becomes a usage error. */
export function optionValue<T>(parse: (value: string) => T): (value: string) => T {
  return (value) => {
    try {
      return parse(value);
    } catch (e) {
      throw new InvalidArgumentError(e instanceof Error ? e.message : String(e));
    }
  };
}

export const positiveInt = optionValue((value) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new Error('must be a positive integer');
  return n;
});

export const positiveNumber = optionValue((value) => {
  const n = Number(value);
  if (!value.trim() || !Number.isFinite(n) || n <= 0) throw new Error('must be a positive number');
  return n;
});

/** A --queue URL, checked when the options are parsed. */
export const queueUrl = optionValue((value) => (parseQueueTarget(value), value));

export const deviceSpec = optionValue((value): DeviceSpec => parseDevice(value));

export const shardSpec = optionValue(parseShard);

/** A comma-separated list of method specs, each parsed before any work starts. */
export const methodList = optionValue((value) => value.split(',').map((m) => parseSpec(m.trim()) && m.trim()));

/** A repeatable option's values, in order. */
export const collect = (value: string, previous: string[]) => [...previous, value];

/** --tensor-method <glob>=<spec> (repeatable, as llama-quantize's --tensor-type): the rules in
 * order; the spec is checked with the rest of the policy. */
export const tensorMethod = (value: string, previous: Array<[string, string]>): Array<[string, string]> => {
  const at = value.indexOf('=');
  if (at <= 0 || at === value.length - 1) throw new InvalidArgumentError(`must be <glob>=<method spec>, e.g. '*down_proj*=rtn:6', got '${value}'`);
  return [...previous, [value.slice(0, at), value.slice(at + 1)]];
};

/** A size with its unit (500KB, 20MB, 2GB, 1.5GiB): a bare number is refused, not read as bytes. */
export const byteSize = optionValue((value) => {
  const m = /^([0-9]+(?:\.[0-9]+)?)\s*([kmgt]?)(i?)b$/i.exec(value.trim());
  if (!m) throw new Error('must be a size with its unit, such as 500KB, 20MB or 2GB');
  return Math.round(Number(m[1]) * (m[3] ? 1024 : 1000) ** ' kmgt'.indexOf((m[2] || ' ').toLowerCase()));
});

export const FORCE = ['-f, --force', 'replace an existing output'] as const;
