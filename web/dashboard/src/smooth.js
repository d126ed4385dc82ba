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

// Where the average stands after the last point the gateway smoothed, so that the page goes
// on with the points logged since: `{biased, power}`, the running average before debiasing
// and weight^count (the debiasing divides by 1 - weight^count, so the count matters).
// With the whole series (`count` its finite values), that is exact.
export function stateAfter(smoothed, count, weight) {
  const power = weight ** count;
  return { biased: smoothed * (1 - power), power };
}

// The same from the last two finite points of a stretch of the full series (consecutive in
// it, as a step range without downsampling gives them): `previous` the average before `value`,
// `smoothed` the one after it. From S(1 - w·u) = w·P(1 - u) + (1 - w)·x, u = w^(count-1).
// Null when the two averages are (nearly) equal: a flat stretch says nothing of the count, and
// a guess (no debiasing left) would bend the line at the next value that differs.
export function stateFrom(previous, smoothed, value, weight) {
  const denominator = weight * (previous - smoothed);
  if (!(Math.abs(denominator) > 1e-9 * Math.max(1, Math.abs(smoothed)))) return null;
  const u = (weight * previous + (1 - weight) * value - smoothed) / denominator;
  const power = Math.min(weight * weight, Math.max(0, weight * u));
  return { biased: smoothed * (1 - power), power };
}

// `state` (after some point) carried over `count` more finite values whose last average is
// `smoothed`: the debiasing's power goes on exactly, whatever the values were.
export function stateLater(state, count, smoothed, weight) {
  const power = state.power * weight ** count;
  return { biased: smoothed * (1 - power), power };
}

// The averages of `values` logged after `state`, as `smooth` would give them over the whole.
export function goOn(state, values, weight) {
  let { biased, power } = state;
  return values.map((value) => {
    if (value == null || !Number.isFinite(value)) return null;
    biased = biased * weight + (1 - weight) * value;
    power *= weight;
    return biased / (1 - power);
  });
}
