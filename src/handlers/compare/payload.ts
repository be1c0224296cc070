// guestkit.compare.v1 payload: two images (as guestkit.inspect takes them), what to compare, output.
import { bool, obj, type Obj } from '../payload-fields.js';
import { parseImageSpec, parseOutput, type ImageSpec, type OutputSpec } from '../profile/payload.js';
import type { CompareOptions } from './types.js';

export interface CompareRequest {
  baseline: ImageSpec;
  target: ImageSpec;
  options: CompareOptions;
  output: OutputSpec;
}

export function validateComparePayload(data: unknown): CompareRequest {
  const d = obj(data, 'payload.data', true) as Obj;
  const o = obj(d.options, 'payload.data.options') ?? {};
  const flag = (name: keyof CompareOptions, fallback: boolean) =>
    bool(
      o[name] ?? (name === 'recommendations' ? d.recommendations : undefined),
      `payload.data.options.${name}`,
      fallback,
    );
  return {
    baseline: parseImageSpec(d.baseline, 'payload.data.baseline'),
    target: parseImageSpec(d.target, 'payload.data.target'),
    options: {
      compare_packages: flag('compare_packages', true),
      compare_files: flag('compare_files', false),
      compare_config: flag('compare_config', true),
      ignore_timestamps: flag('ignore_timestamps', true),
      recommendations: flag('recommendations', false),
    },
    output: parseOutput(d.output, 'payload.data.output'),
  };
}
