// ECharts, tree-shaken to what the pages draw, with the China province map of the
// npm package china-geojson (antvis, MIT) registered as `china`.
import { BarChart, EffectScatterChart, LineChart, LinesChart, MapChart, PieChart, ScatterChart } from 'echarts/charts';
import {
  GeoComponent,
  GridComponent,
  LegendComponent,
  TooltipComponent,
  VisualMapComponent,
} from 'echarts/components';
import * as echarts from 'echarts/core';
import { CanvasRenderer } from 'echarts/renderers';
// The package's index.js is CommonJS requiring every province; only the national
// map is needed, and it is plain GeoJSON (35 features, `properties.name` in Chinese).
import chinaGeoJson from 'china-geojson/src/geojson/china.json';
// City-level outlines of the two provinces the checkpoints are in, for the trail map.
import chongqingGeoJson from 'china-geojson/src/geojson/chong_qing_geo.json';
import sichuanGeoJson from 'china-geojson/src/geojson/si_chuan_geo.json';

echarts.use([
  BarChart,
  EffectScatterChart,
  LineChart,
  LinesChart,
  MapChart,
  PieChart,
  ScatterChart,
  GeoComponent,
  GridComponent,
  LegendComponent,
  TooltipComponent,
  VisualMapComponent,
  CanvasRenderer,
]);

export const CHINA = 'china';
/** China by province, with 四川 and 重庆 by city / district. */
export const CHINA_DETAIL = 'china-detail';

type GeoJson = Parameters<typeof echarts.registerMap>[1];
interface FeatureCollection {
  type: 'FeatureCollection';
  features: Array<{ properties: { name: string } }>;
}

let registered = false;

/** Registers the `china` map once; region names are short province names (四川, 重庆 …). */
export function registerChina(): void {
  if (registered) return;
  echarts.registerMap(CHINA, chinaGeoJson as unknown as GeoJson);
  registered = true;
}

let detailRegistered = false;

/** Registers `china-detail`: the trail map, zoomed into Sichuan and Chongqing. */
export function registerChinaDetail(): void {
  if (detailRegistered) return;
  const china = chinaGeoJson as unknown as FeatureCollection;
  const detail: FeatureCollection = {
    type: 'FeatureCollection',
    features: [
      ...china.features.filter((f) => f.properties.name !== '四川' && f.properties.name !== '重庆'),
      ...(sichuanGeoJson as unknown as FeatureCollection).features,
      ...(chongqingGeoJson as unknown as FeatureCollection).features,
    ],
  };
  echarts.registerMap(CHINA_DETAIL, detail as unknown as GeoJson);
  detailRegistered = true;
}

interface ProvinceProperties {
  name: string;
  cp?: [number, number];
  longitude?: number;
  latitude?: number;
}

const centers = new Map<string, [number, number]>();
for (const feature of (chinaGeoJson as { features: Array<{ properties: ProvinceProperties }> }).features) {
  const p = feature.properties;
  const center = p.cp ?? (p.longitude !== undefined && p.latitude !== undefined ? [p.longitude, p.latitude] : null);
  if (center) centers.set(p.name, center);
}

/** A province's label point `[lon, lat]`, from the GeoJSON's own properties. */
export function provinceCenter(name: string): [number, number] | undefined {
  return centers.get(name);
}

export type Chart = echarts.ECharts;

/** An ECharts instance on `el` that follows the element's size. */
export function createChart(el: HTMLElement): Chart {
  const chart = echarts.init(el, undefined, { renderer: 'canvas' });
  new ResizeObserver(() => chart.resize()).observe(el);
  return chart;
}

export { echarts };
