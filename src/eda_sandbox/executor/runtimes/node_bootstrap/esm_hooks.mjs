export { resolve } from './esm_hooks.cjs';
