// 车辆轨迹: one plate's sightings on the map, with its legs; impossible legs in red.
import './style.css';
import { api, type Trail, type TrailLeg, type TrailPoint } from './api';
import { CHINA_DETAIL, createChart, registerChinaDetail, type Chart } from './chinaMap';
import { escapeHtml, fmtInterval, fmtNum, fromDatetimeLocal, toDatetimeLocal } from './format';
import { initI18n, intervalUnits, onLangChange, ruleName, t, tv } from './i18n';
import { C, FONT, MOTION, tooltip } from './theme';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

registerChinaDetail();
initI18n();

// created once its section is shown: ECharts needs a sized element
let chart: Chart | null = null;
let trail: Trail | null = null;
let inFlight: AbortController | null = null;

interface Place {
  kkmc: string;
  lon: number;
  lat: number;
  /** 1-based sighting numbers at this checkpoint, in time order. */
  numbers: number[];
  times: string[];
}

const hasCoords = (p: TrailPoint): p is TrailPoint & { lon: number; lat: number } =>
  p.lon !== null && p.lat !== null && Number.isFinite(p.lon) && Number.isFinite(p.lat);

/** Sightings grouped by checkpoint position, so repeated visits share one numbered point. */
function places(sightings: TrailPoint[]): Place[] {
  const byKey = new Map<string, Place>();
  sightings.forEach((s, i) => {
    if (!hasCoords(s)) return;
    const key = `${s.lon.toFixed(5)},${s.lat.toFixed(5)}`;
    let place = byKey.get(key);
    if (!place) {
      place = { kkmc: s.kkmc, lon: s.lon, lat: s.lat, numbers: [], times: [] };
      byKey.set(key, place);
    }
    place.numbers.push(i + 1);
    place.times.push(s.gcsj);
  });
  return [...byKey.values()];
}

function numbersLabel(numbers: number[]): string {
  const shown = numbers.slice(0, 4).join(',');
  return numbers.length > 4 ? `${shown}…(+${numbers.length - 4})` : shown;
}

function speedLabel(leg: TrailLeg): string {
  return leg.speed_kmh === null ? '∞ km/h' : `${fmtNum(leg.speed_kmh)} km/h`;
}

/** The bounding box of the points, padded, as ECharts' geo `boundingCoords`. */
function boundingCoords(points: Array<{ lon: number; lat: number }>): [[number, number], [number, number]] | undefined {
  if (points.length === 0) return undefined;
  const lons = points.map((p) => p.lon);
  const lats = points.map((p) => p.lat);
  let [minLon, maxLon, minLat, maxLat] = [Math.min(...lons), Math.max(...lons), Math.min(...lats), Math.max(...lats)];
  // some context around the points: at least ~4° across, so the provinces read
  const pad = Math.max(1.2, Math.max(maxLon - minLon, maxLat - minLat) * 0.3);
  minLon -= pad;
  maxLon += pad;
  minLat -= pad;
  maxLat += pad;
  return [
    [minLon, maxLat],
    [maxLon, minLat],
  ];
}

/** The legs between one ordered pair of places, drawn as one line. */
interface Route {
  coords: [[number, number], [number, number]];
  legs: TrailLeg[];
  /** The leg shown in the label: the fastest. */
  fastest: TrailLeg;
  lineStyle: { width: number };
}

/** Legs grouped by (from, to) position and verdict, so a clone's back-and-forth draws once. */
function legRoutes(data: Trail): { normal: Route[]; impossible: Route[] } {
  const groups = new Map<string, Route>();
  for (const leg of data.legs) {
    const a = data.sightings[leg.from];
    const b = data.sightings[leg.to];
    if (!a || !b || !hasCoords(a) || !hasCoords(b)) continue;
    if (a.lon === b.lon && a.lat === b.lat) continue;
    const key = `${leg.impossible}|${a.lon},${a.lat}|${b.lon},${b.lat}`;
    const route = groups.get(key);
    if (!route) {
      groups.set(key, { coords: [[a.lon, a.lat], [b.lon, b.lat]], legs: [leg], fastest: leg, lineStyle: { width: 0 } });
      continue;
    }
    route.legs.push(leg);
    if ((leg.speed_kmh ?? Infinity) > (route.fastest.speed_kmh ?? Infinity)) route.fastest = leg;
  }
  const routes = [...groups.values()];
  for (const r of routes) {
    const base = r.fastest.impossible ? 3 : 1.5;
    r.lineStyle.width = base + Math.min(4, Math.log2(r.legs.length));
  }
  return { normal: routes.filter((r) => !r.fastest.impossible), impossible: routes.filter((r) => r.fastest.impossible) };
}

function renderMap(): void {
  const el = $('chart-trail');
  if (!trail) return;
  const pts = places(trail.sightings);
  const drawnSightings = trail.sightings.filter(hasCoords).length;
  const { normal, impossible } = legRoutes(trail);
  const routeTooltip = (p: { data: Route }) => {
    const r = p.data;
    const leg = r.fastest;
    const head = `${escapeHtml(leg.from_kkmc)} → ${escapeHtml(leg.to_kkmc)}`;
    const count = r.legs.length > 1 ? ` ×${r.legs.length}` : '';
    return `${head}${count}<br/>${leg.distance_km === null ? '—' : fmtNum(leg.distance_km, 1)} km · ${escapeHtml(
      fmtInterval(leg.interval_s, intervalUnits()),
    )} · <b>${speedLabel(leg)}</b><br/>${escapeHtml(leg.impossible ? ruleName(leg.rule ?? 'speed') : t('t.normal'))}`;
  };
  // a long trail (a clone ping-ponging) would drown in moving dots
  const animate = impossible.length <= 12;

  chart ??= createChart(el);
  chart.setOption(
    {
      animation: MOTION,
      textStyle: { fontFamily: FONT },
      tooltip: { ...tooltip, trigger: 'item' },
      geo: {
        map: CHINA_DETAIL,
        roam: true,
        boundingCoords: boundingCoords(pts),
        scaleLimit: { min: 0.5, max: 20 },
        top: 24,
        bottom: 24,
        left: 24,
        right: 24,
        label: {
          show: true,
          color: 'rgba(207, 232, 255, 0.38)',
          fontSize: 11,
          formatter: (p: { name: string }) => tv(p.name),
        },
        itemStyle: {
          areaColor: 'rgba(13, 40, 82, 0.85)',
          borderColor: 'rgba(0, 229, 255, 0.4)',
          borderWidth: 0.8,
          shadowColor: 'rgba(0, 229, 255, 0.3)',
          shadowBlur: 12,
        },
        emphasis: { disabled: true },
        select: { disabled: true },
        tooltip: { show: false },
      },
      series: [
        {
          name: 'legs',
          type: 'lines',
          coordinateSystem: 'geo',
          data: normal,
          symbol: ['none', 'arrow'],
          symbolSize: 7,
          lineStyle: { color: C.cyan, opacity: 0.75, curveness: 0.12 },
          tooltip: { formatter: routeTooltip },
          zlevel: 1,
        },
        {
          name: 'impossible',
          type: 'lines',
          coordinateSystem: 'geo',
          data: impossible,
          symbol: ['none', 'arrow'],
          symbolSize: 11,
          lineStyle: { color: C.red, opacity: 0.9, curveness: 0.2, shadowColor: C.red, shadowBlur: animate ? 8 : 0 },
          effect: { show: animate, period: 3, trailLength: 0.25, symbol: 'circle', symbolSize: 6, color: '#fff' },
          label: {
            show: true,
            position: 'middle',
            formatter: (p: { data: Route }) =>
              p.data.legs.length > 1 ? `${speedLabel(p.data.fastest)} ×${p.data.legs.length}` : speedLabel(p.data.fastest),
            color: '#fff',
            fontSize: 12,
            fontWeight: 'bold',
            backgroundColor: 'rgba(255, 77, 79, 0.85)',
            padding: [2, 5],
            borderRadius: 3,
          },
          labelLayout: { hideOverlap: true },
          tooltip: { formatter: routeTooltip },
          zlevel: 2,
        },
        {
          name: 'sightings',
          type: 'scatter',
          coordinateSystem: 'geo',
          data: pts.map((p) => ({ name: p.kkmc, value: [p.lon, p.lat, p.numbers.length], place: p })),
          symbolSize: (v: number[]) => 9 + Math.min(12, Math.log2(v[2]) * 3),
          itemStyle: { color: C.gold, borderColor: '#fff', borderWidth: 1.5, shadowColor: C.gold, shadowBlur: 10 },
          label: {
            show: true,
            position: 'right',
            formatter: (p: { data: { place: Place } }) => `{n|${numbersLabel(p.data.place.numbers)}}`,
            rich: {
              n: {
                color: C.gold,
                fontSize: 12,
                fontWeight: 'bold',
                backgroundColor: 'rgba(2, 11, 31, 0.8)',
                borderColor: 'rgba(255, 184, 0, 0.6)',
                borderWidth: 1,
                padding: [2, 4],
                borderRadius: 2,
              },
            },
          },
          labelLayout: { moveOverlap: 'shiftY' },
          tooltip: {
            formatter: (p: { data: { place: Place } }) => {
              const place = p.data.place;
              const lines = place.times
                .slice(0, 12)
                .map((time, i) => `#${place.numbers[i]} ${escapeHtml(time)}`)
                .join('<br/>');
              const more = place.times.length > 12 ? `<br/>… +${place.times.length - 12}` : '';
              return `<b>${escapeHtml(place.kkmc)}</b><br/>${lines}${more}`;
            },
          },
          zlevel: 3,
        },
      ],
    },
    { notMerge: true },
  );
  el.dataset.points = String(drawnSightings);
  el.dataset.legs = String([...normal, ...impossible].reduce((n, r) => n + r.legs.length, 0));
}

function renderLegs(): void {
  if (!trail) return;
  const data = trail;
  const units = intervalUnits();
  const place = (kkmc: string, index: number) =>
    `<div class="leg-place"><span>${escapeHtml(kkmc)}</span><small>#${index + 1} ${escapeHtml(data.sightings[index]?.gcsj ?? '')}</small></div>`;
  $('leg-rows').innerHTML = data.legs
    .map(
      (leg, i) => `<tr class="${leg.impossible ? 'impossible' : ''}">
        <td class="num">${i + 1}</td>
        <td>${place(leg.from_kkmc, leg.from)}</td>
        <td>${place(leg.to_kkmc, leg.to)}</td>
        <td class="num">${leg.distance_km === null ? '—' : fmtNum(leg.distance_km, 1)}</td>
        <td class="num">${escapeHtml(fmtInterval(leg.interval_s, units))}</td>
        <td class="num speed">${leg.speed_kmh === null ? (leg.impossible ? '∞' : '—') : fmtNum(leg.speed_kmh, 1)}</td>
        <td><span class="verdict">${escapeHtml(leg.impossible ? ruleName(leg.rule ?? 'speed') : t('t.normal'))}</span></td>
      </tr>`,
    )
    .join('');
}

function renderSummary(): void {
  if (!trail) return;
  $('s-hphm').textContent = trail.hphm;
  $('s-total').textContent = fmtNum(trail.total);
  $('s-impossible').textContent = fmtNum(trail.legs.filter((l) => l.impossible).length);
  $('s-limit').textContent = `${fmtNum(trail.speed_limit_kmh)} km/h`;
  $('truncated').hidden = !trail.truncated;
  $<HTMLAnchorElement>('nav-query').href = `query.html?${new URLSearchParams({ hphm: trail.hphm })}`;
}

function render(): void {
  if (!trail) return;
  $('trail').hidden = false;
  $('prompt').hidden = true;
  renderSummary();
  renderLegs();
  renderMap();
  if (trail.sightings.length === 0) showError(t('t.noSightings'));
}

function showError(text: string): void {
  const el = $('error');
  el.textContent = text;
  el.hidden = false;
}

async function load(hphm: string, start: string, end: string): Promise<void> {
  inFlight?.abort();
  const controller = new AbortController();
  inFlight = controller;
  $('error').hidden = true;
  try {
    trail = await api.trail({ hphm, start, end }, controller.signal);
    render();
  } catch (error) {
    if (controller.signal.aborted) return;
    showError(error instanceof Error ? error.message : String(error));
  }
}

function fromUrl() {
  const q = new URLSearchParams(location.search);
  return { hphm: q.get('hphm')?.trim() ?? '', start: q.get('start')?.trim() ?? '', end: q.get('end')?.trim() ?? '' };
}

function show(params: { hphm: string; start: string; end: string }): void {
  $<HTMLInputElement>('f-hphm').value = params.hphm;
  $<HTMLInputElement>('f-start').value = toDatetimeLocal(params.start);
  $<HTMLInputElement>('f-end').value = toDatetimeLocal(params.end);
  if (params.hphm) {
    document.title = `${params.hphm} · ${t('title.trail')}`;
    void load(params.hphm, params.start, params.end);
  }
}

$('trail-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const params = {
    hphm: $<HTMLInputElement>('f-hphm').value.trim(),
    start: fromDatetimeLocal($<HTMLInputElement>('f-start').value),
    end: fromDatetimeLocal($<HTMLInputElement>('f-end').value),
  };
  if (!params.hphm) return;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
  window.history.pushState(null, '', `${location.pathname}?${q}`);
  show(params);
});

$<HTMLInputElement>('only-impossible').addEventListener('change', (event) => {
  $('legs').classList.toggle('only-impossible', (event.target as HTMLInputElement).checked);
});

window.addEventListener('popstate', () => show(fromUrl()));

onLangChange(() => render());

show(fromUrl());
