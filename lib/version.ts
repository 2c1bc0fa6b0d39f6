import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { packageRoot } from './native';

/** This package's version, from its package.json. */
export const version: string = JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')).version;
