// The method presets of the demo and of `bench e2e`, and the suites of `bench kernels`, apart from
// their code, so that the CLI's help (and its check of --only) can show them without loading the tools.
export const DEMO_METHODS = ['lossless', 'rtn:8', 'rtn:4', 'rtn:4:rot', 'rtn:3', 'rtn:3:rot', 'rtn:2:g32', 'ternary', 'ternary:opt', 'seedlm:4', 'seedlm:3', 'vptq:4', 'vptq:3', 'vptq:2'];
export const E2E_METHODS = ['lossless', 'rtn:8', 'rtn:4', 'ternary', 'seedlm:4', 'vptq:2'];

export const SUITES = ['convert', 'rtn', 'ternary', 'seedlm', 'kmeans', 'lzma', 'forward'] as const;
export type SuiteName = (typeof SUITES)[number];
/** The suites with rows on the GPU (`--device cuda`): the kernels the native API runs on a GPU
 * when given `device: { cuda }` (binding/backend_table.cc). The forward pass has no CUDA kernel. */
export const CUDA_SUITES: readonly SuiteName[] = ['convert', 'rtn', 'ternary', 'seedlm', 'kmeans', 'lzma'];
