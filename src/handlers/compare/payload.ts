// guestkit.compare.v1 payload: two images (guestkit.inspect's image block), what to compare, output.
import { validateImage, validateOutput, type ImageSpec, type OutputSpec } from '../inspect/payload.js';
import { bool, obj, type Obj } from '../payload-fields.js';
import type { CompareOptions } from './types.js';

export interface CompareRequest {
  baseline: ImageSpec;
  target: ImageSpec;
  options: CompareOptions;
  output: OutputSpec;
  isolated: boolean;
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
    baseline: validateImage(d.baseline, 'payload.data.baseline'),
    target: validateImage(d.target, 'payload.data.target'),
    options: {
      compare_packages: flag('compare_packages', true),
      compare_files: flag('compare_files', false),
      compare_config: flag('compare_config', true),
      ignore_timestamps: flag('ignore_timestamps', true),
      recommendations: flag('recommendations', false),
    },
    output: validateOutput(d.output, 'payload.data.output'),
    isolated: bool(o.isolated_appliance, 'payload.data.options.isolated_appliance', false),
  };
}
