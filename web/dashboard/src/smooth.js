// TensorBoard's smoothing: a debiased exponential moving average with `weight` in [0, 1). The
// first values are not pulled towards 0 (the debiasing), and a value that is not a finite
// number stays a gap without disturbing the average. The same definition as the gateway's
// `smoothed` field; computed here so that the slider answers at once, and over live points too.
export function smooth(values, weight) {
  if (!(weight > 0)) return values.slice();
  const out = new Array(values.length);
  let last = 0;
  let count = 0;
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (value == null || !Number.isFinite(value)) {
      out[i] = null;
      continue;
    }
    last = last * weight + (1 - weight) * value;
    count += 1;
    out[i] = last / (1 - weight ** count);
  }
  return out;
}
