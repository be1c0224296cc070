// `--import` this to run a benchmark against dist/ (see bench-release-hooks.mjs).
import { register } from 'node:module';

register('./bench-release-hooks.mjs', import.meta.url);
