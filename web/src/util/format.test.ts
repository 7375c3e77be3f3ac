import { describe, expect, it } from 'vitest';
import { formatGpuSeconds } from './format';

describe('formatGpuSeconds', () => {
  it('reads as seconds, minutes or hours', () => {
    expect(formatGpuSeconds(0)).toBe('0 s');
    expect(formatGpuSeconds(0.37)).toBe('0.4 s');
    expect(formatGpuSeconds(41.6)).toBe('42 s');
    expect(formatGpuSeconds(210)).toBe('3.5 min');
    expect(formatGpuSeconds(4320)).toBe('1.2 h');
  });

  it('shows a dash for what is not a duration', () => {
    expect(formatGpuSeconds(undefined)).toBe('—');
    expect(formatGpuSeconds(null)).toBe('—');
    expect(formatGpuSeconds(-1)).toBe('—');
    expect(formatGpuSeconds(Number.NaN)).toBe('—');
  });
});
