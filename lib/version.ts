/** This package's version, from its package.json (the native addon carries the same, checked at load). */
export { packageVersion as version } from './native';
