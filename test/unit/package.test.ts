import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../lib/index.js';

describe('package', () => {
  it('finds its root', () => {
    expect(PACKAGE_ROOT).toMatch(/\S/);
  });
});
