// guestkit.profile.v1 payload. The image and output blocks are guestkit.inspect's (same fields,
// same messages); profiles, options and include_remediation are profile's own.
import { ValidationError } from '../../protocol/errors.js';
import { validateImage, validateOutput, type ImageSpec, type OutputSpec } from '../inspect/payload.js';
import { bool, invalid, obj, oneOf, type Obj } from '../payload-fields.js';
import { PROFILE_NAMES, SEVERITIES, type ProfileName, type ProfileOptions, type Severity } from './types.js';

export interface ProfileRequest {
  image: ImageSpec;
  profiles: ProfileName[];
  options: ProfileOptions;
  output: OutputSpec;
  includeRemediation: boolean;
  /** options.isolated_appliance: never share an appliance with other jobs. */
  isolated: boolean;
}

export function validateProfilePayload(data: unknown): ProfileRequest {
  if (data === undefined || data === null) throw new ValidationError('Missing required field: payload.data');
  const d = obj(data, 'payload.data', true) as Obj;
  const image = validateImage(d.image, 'payload.data.image');
  let profiles: ProfileName[] = [...PROFILE_NAMES];
  if (d.profiles !== undefined) {
    if (!Array.isArray(d.profiles) || d.profiles.length === 0) {
      throw invalid('payload.data.profiles', `must be a non-empty list of ${PROFILE_NAMES.join(', ')}`);
    }
    const names = d.profiles.map(
      (p, i) => oneOf(p, `payload.data.profiles[${i}]`, PROFILE_NAMES, true) as ProfileName,
    );
    profiles = [...new Set(names)];
  }
  const options = obj(d.options, 'payload.data.options') ?? {};
  const output = obj(d.output, 'payload.data.output') ?? {};
  const threshold: Severity =
    oneOf(options.severity_threshold, 'payload.data.options.severity_threshold', SEVERITIES) ?? 'info';
  return {
    image,
    profiles,
    options: {
      severity_threshold: threshold,
      fail_on_critical: bool(options.fail_on_critical, 'payload.data.options.fail_on_critical', false),
    },
    output: validateOutput(d.output, 'payload.data.output'),
    // Accepted in either block: older clients put it under options.
    includeRemediation: bool(
      output.include_remediation ?? options.include_remediation,
      'payload.data.output.include_remediation',
      true,
    ),
    isolated: bool(options.isolated_appliance, 'payload.data.options.isolated_appliance', false),
  };
}
