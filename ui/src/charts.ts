// Time-series charts with uPlot (about 50 kB minified, canvas-drawn, fast with many points).
// Colours come from the stylesheet's custom properties, so charts follow light and dark mode.

import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export interface SeriesSpec {
  label: string;
  /** A CSS custom property holding a #rrggbb colour. */
  color: string;
  fill?: boolean;
}

export interface ChartSpec {
  series: SeriesSpec[];
  unit: string;
  /** The y axis shows at least 0..floor. */
  floor: number;
  /** And at most this, if set. */
  ceiling?: number;
}

const dark = window.matchMedia("(prefers-color-scheme: dark)");

function css(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888888";
}

export class Chart {
  private plot: uPlot | null = null;
  private data: uPlot.AlignedData = [[]];
  private readonly resize = new ResizeObserver(() => this.fit());
  private readonly rebuild = (): void => this.build();

  constructor(
    private readonly host: HTMLElement,
    private readonly spec: ChartSpec,
  ) {
    this.data = [[], ...spec.series.map(() => [])];
    this.resize.observe(host);
    dark.addEventListener("change", this.rebuild);
  }

  set(data: uPlot.AlignedData): void {
    this.data = data;
    if (this.plot) this.plot.setData(data);
    else this.build();
  }

  destroy(): void {
    this.resize.disconnect();
    dark.removeEventListener("change", this.rebuild);
    this.plot?.destroy();
    this.plot = null;
  }

  private size(): { width: number; height: number } {
    return { width: Math.max(this.host.clientWidth, 200), height: 200 };
  }

  private fit(): void {
    if (this.plot) this.plot.setSize(this.size());
  }

  private build(): void {
    this.plot?.destroy();
    const text = css("--muted");
    const grid = css("--grid");
    const { unit, floor, ceiling } = this.spec;
    const axis = { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const options: uPlot.Options = {
      ...this.size(),
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: { time: true },
        y: { range: (_u, _min, max) => [0, Math.min(Math.max(max * 1.1, floor), ceiling ?? Infinity)] },
      },
      axes: [axis, { ...axis, size: 56, values: (_u, ticks) => ticks.map((v) => `${+v.toFixed(2)}${unit}`) }],
      series: [
        {},
        ...this.spec.series.map((s) => {
          const color = css(s.color);
          return {
            label: s.label,
            stroke: color,
            width: 2,
            fill: s.fill ? `${color}26` : undefined,
            points: { show: false },
            value: (_u: uPlot, v: number | null) => (v === null ? "—" : `${+v.toFixed(2)}${unit}`),
          };
        }),
      ],
    };
    this.plot = new uPlot(options, this.data, this.host);
  }
}
