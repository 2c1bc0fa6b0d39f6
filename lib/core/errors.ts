/** Rejection of an operation stopped by its AbortSignal (same name and code as Node's own). */
export class AbortError extends Error {
  readonly code = 'ABORT_ERR';
  constructor(message = 'The operation was aborted', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AbortError';
  }
}

/** The input or the options a process sees are not those of the run it was asked to help with
 * (files changed, other options, another version): the same on every retry. */
export class RunMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunMismatchError';
  }
}

/** A file that is not what it claims to be (malformed safetensors, corrupted container): names the file. */
export class FormatError extends Error {
  constructor(readonly file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = 'FormatError';
  }
}

/** A bad method spec, policy or option value: a usage error (exit 2). */
export class SpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SpecError';
  }
}

/** Malformed JSON, with the offset of the problem (lib/io/strict-json.ts). */
export class JsonError extends Error {}
