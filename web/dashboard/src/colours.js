// A colour for every charted experiment, however many: the ten of the usual palette first,
// then hues a golden angle apart (never the same twice), in two lightnesses by turns so that
// neighbours differ more. An experiment keeps its colour for as long as the page is open,
// whatever else is ticked or unticked.
const FIRST = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
               "#17becf", "#bcbd22", "#7f7f7f"];
const GOLDEN_ANGLE = 137.50776405003785;

// The colour of the `index`th experiment given one, as #rrggbb (charts add an alpha to it).
export function colour(index) {
  if (index < FIRST.length) return FIRST[index];
  const n = index - FIRST.length;
  const hue = (n * GOLDEN_ANGLE + 17) % 360;
  return hsl(hue, n % 2 ? 0.55 : 0.75, n % 2 ? 0.36 : 0.52);
}

// Colours by experiment key: the next index for a key not seen yet, the same one after.
export class Palette {
  constructor() {
    this.indexes = new Map();
  }

  of(key) {
    if (!this.indexes.has(key)) this.indexes.set(key, this.indexes.size);
    return colour(this.indexes.get(key));
  }
}

function hsl(hue, saturation, lightness) {
  const a = saturation * Math.min(lightness, 1 - lightness);
  const channel = (n) => {
    const k = (n + hue / 30) % 12;
    const value = lightness - a * Math.max(-1, Math.min(k - 3, 9 - k, 1));
    return Math.round(value * 255).toString(16).padStart(2, "0");
  };
  return `#${channel(0)}${channel(8)}${channel(4)}`;
}
