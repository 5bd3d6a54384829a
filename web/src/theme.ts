// Colours and type shared by the charts (the CSS has the same palette).

export const FONT = "'Noto Sans CJK SC', 'Source Han Sans SC', 'PingFang SC', 'Microsoft YaHei', sans-serif";

export const C = {
  text: '#cfe8ff',
  dim: '#7fa6c9',
  faint: 'rgba(127, 166, 201, 0.18)',
  cyan: '#00e5ff',
  blue: '#1e90ff',
  gold: '#ffb800',
  red: '#ff4d4f',
  green: '#2ee6a6',
  panel: 'rgba(4, 22, 52, 0.92)',
  border: 'rgba(0, 229, 255, 0.45)',
};

/** Pie / series colours. */
export const PALETTE = ['#00e5ff', '#1e90ff', '#2ee6a6', '#ffb800', '#ff7a45', '#b37feb', '#ff4d4f', '#69c0ff'];

/** Font scale for the big screen: 1 at 1920×1080, smaller on smaller screens. */
export function scale(): number {
  return Math.max(0.6, Math.min(window.innerWidth / 1920, window.innerHeight / 1080));
}

export const tooltip = {
  backgroundColor: C.panel,
  borderColor: C.border,
  borderWidth: 1,
  textStyle: { color: C.text, fontFamily: FONT },
  extraCssText: 'box-shadow: 0 0 12px rgba(0, 229, 255, 0.25);',
};

/** Chart animations, unless the user (or a screenshot test) asks for reduced motion. */
export const MOTION = !window.matchMedia('(prefers-reduced-motion: reduce)').matches;
