// The method presets of the demo and of `bench e2e`, apart from their code, so that the CLI's
// help can show them without loading the tools.
export const DEMO_METHODS = ['lossless', 'rtn:8', 'rtn:4', 'rtn:4:rot', 'rtn:3', 'rtn:3:rot', 'rtn:2:g32', 'ternary', 'ternary:opt', 'seedlm:4', 'seedlm:3', 'vptq:4', 'vptq:3', 'vptq:2'];
export const E2E_METHODS = ['lossless', 'rtn:8', 'rtn:4', 'ternary', 'seedlm:4', 'vptq:2'];
