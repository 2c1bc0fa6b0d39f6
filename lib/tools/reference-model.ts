// The trained model that ships with tensorzip (models/kjv-llama, made by
// scripts/train-reference-model.py): the demo and `bench quality` measure what a method costs a
// model that has learned something on it, with its held-out texts.
import * as path from 'node:path';
import { packageRoot } from '../native';

/** The model folder. */
export const REFERENCE_MODEL = path.join(packageRoot, 'models', 'kjv-llama');
/** The Book of Ruth: the text every quality figure is measured on. */
export const REFERENCE_EVAL_TEXT = path.join(REFERENCE_MODEL, 'eval.txt');
/** The Book of Jonah: the text plans are calibrated on (never the one they are measured on). */
export const REFERENCE_CALIBRATION_TEXT = path.join(REFERENCE_MODEL, 'calibration.txt');
/** Tokens per chunk of every quality figure (the perplexity training.json records is at this ctx). */
export const REFERENCE_CTX = 256;
