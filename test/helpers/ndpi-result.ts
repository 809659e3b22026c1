/** nDPI's reference results (corpus/ndpi/result/*.out): the parser lives in src/dataset/ndpi.ts. */
export { parseNdpiResult, parseNdpiResultText, type NdpiFlow } from '../../src/dataset/ndpi.js';
