// 物联网监测: live sensor curves (one chart per field, one line per device) with each
// series' forecast drawn dashed after it, the latest value of every series, per-series
// stats and the streaming window aggregates (1-min tumbling, 5-min sliding), kept current
// by the `points`, `window` and `tick` events of /api/stream (no polling loops); an MQTT
// publish form and a latest-value lookup on the classic IoT app's /publish/ and /get_data/.
import './style.css';
import { LineChart } from 'echarts/charts';
import { GridComponent, LegendComponent, TooltipComponent } from 'echarts/components';
import * as echarts from 'echarts/core';
import { CanvasRenderer } from 'echarts/renderers';
import {
  api,
  ApiError,
  type IotForecast,
  type IotPoint,
  type IotSeries,
  type IotStat,
  type IotWindow,
  type IotWindowEvent,
  type LatestValue,
  type PublishResult,
} from './api';
import { CST_OFFSET_MS, escapeHtml, fmtNum, formatEpoch } from './format';
import { fieldName, initI18n, onLangChange, t } from './i18n';
import { C, FONT, MOTION, PALETTE, tooltip } from './theme';

// (not chinaMap.ts: this page needs no map, and that module carries the GeoJSON)
echarts.use([LineChart, GridComponent, LegendComponent, TooltipComponent, CanvasRenderer]);
type Chart = echarts.ECharts;

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

/** How much of each series the charts keep and show. */
const WINDOW_MS = 15 * 60_000;
/** The history is loaded one average per step. */
const HISTORY_STEP = '5s';
const HISTORY_STEP_MS = 5000;
/** At most this many points per series in memory (a chatty sensor, 15 min). */
const MAX_POINTS = 3000;
const MAX_CHARTS = 6;
/** Stats are re-fetched at most this often, driven by the stream's ticks. */
const STATS_REFRESH_MS = 5000;
/** Live points are drawn in batches, at most this often. */
const RENDER_DELAY_MS = 500;
/** A series first seen on the stream has its tags fetched after this delay (new ones batch up). */
const SERIES_REFRESH_DELAY_MS = 1000;
/** Forecasts: one mean per step, this many steps ahead, re-fetched on a tick at most this often. */
const FORECAST_STEP = '5s';
const FORECAST_HORIZON = 24;
const FORECAST_SPAN_MS = 5000 * FORECAST_HORIZON;
const FORECAST_REFRESH_MS = 15_000;
/**
 * A series is forecast once the page has this much of it: the model needs 24 steps
 * (asking sooner would only get a 422).
 */
const FORECAST_MIN_SPAN_MS = 5000 * 30;

/** The live window kinds of the windows table: how the API is asked, and how their `window` events are told apart. */
const WINDOW_KINDS = [
  { key: 'tumbling', params: { kind: 'tumbling', size: '1m' }, sizeMs: 60_000, slideMs: 60_000 },
  { key: 'sliding', params: { kind: 'sliding', size: '5m', slide: '1m' }, sizeMs: 300_000, slideMs: 60_000 },
] as const;
type WindowKey = (typeof WINDOW_KINDS)[number]['key'];

/** The window a table cell shows: the newest closed one, else the current open one. */
interface ShownWindow {
  window: IotWindow;
  open: boolean;
}

initI18n();

interface SeriesState {
  id: string;
  /** The id before its last `/`: the device (`dev-01`, `climate,device=dev-03`). */
  source: string;
  /** The id after its last `/`: the field (`temperature`). */
  field: string;
  tags: Record<string, string>;
  /** Points stored: the server's count at load plus the live ones since. */
  count: number;
  lastTs: number | null;
  lastValue: number | null;
  /** `[epoch ms, value]` in time order, the last WINDOW_MS. */
  points: Array<[number, number]>;
  history: 'none' | 'loading' | 'loaded';
  /** Live points that arrived while the history was loading. */
  pending: Array<[number, number]> | null;
  /** Where the page first heard of it. */
  origin: 'list' | 'stream';
}

const state = {
  series: new Map<string, SeriesState>(),
  /** Charted fields, in chart order. */
  fields: [] as string[],
  stats: [] as IotStat[],
  statsLoaded: false,
  received: 0,
  publish: null as { ok: true; result: PublishResult } | { ok: false; message: string } | null,
  read: null as { ok: true; result: LatestValue } | { ok: false; message: string } | null,
  /** Per series, the window each kind's cell shows. */
  windows: new Map<string, Partial<Record<WindowKey, ShownWindow>>>(),
  windowsLoaded: false,
  latenessMs: 5000,
  /** Per series, its newest forecast (absent: none yet, or too little history). */
  forecasts: new Map<string, IotForecast>(),
  /** When each series' forecast was last asked for. */
  forecastAsked: new Map<string, number>(),
};

// ---------------------------------------------------------------- series

function splitId(id: string): { source: string; field: string } {
  const slash = id.lastIndexOf('/');
  return slash < 0 ? { source: id, field: id } : { source: id.slice(0, slash), field: id.slice(slash + 1) };
}

/** Tags of a line-protocol style source (`climate,device=dev-03` → `{device: dev-03}`). */
function tagsOfSource(source: string): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const pair of source.split(',').slice(1)) {
    const eq = pair.indexOf('=');
    if (eq > 0) tags[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return tags;
}

/** A line's name: the source, line-protocol style sources shorter (`climate,device=dev-03` → `climate dev-03`). */
function lineName(source: string): string {
  const [measurement, ...pairs] = source.split(',');
  return pairs.length ? [measurement, ...pairs.map((p) => p.slice(p.indexOf('=') + 1))].join(' ') : source;
}

function device(s: SeriesState): string {
  return s.tags.device ?? s.source;
}

function addSeries(id: string, origin: SeriesState['origin']): SeriesState {
  const { source, field } = splitId(id);
  const s: SeriesState = {
    id,
    source,
    field,
    tags: tagsOfSource(source),
    count: 0,
    lastTs: null,
    lastValue: null,
    points: [],
    history: 'none',
    pending: null,
    origin,
  };
  state.series.set(id, s);
  return s;
}

/**
 * Takes the list's tags, count and newest value (the list knows more than the stream).
 * The first list claims the series the stream showed while it loaded.
 */
function mergeListed(listed: IotSeries[], first: boolean): void {
  for (const item of listed) {
    let s = state.series.get(item.id);
    if (!s) s = addSeries(item.id, first ? 'list' : 'stream');
    else if (first) s.origin = 'list';
    if (item.tags && Object.keys(item.tags).length > 0) s.tags = item.tags;
    s.count = Math.max(s.count, item.points);
    if (item.last_ts !== null && item.last_value !== null && (s.lastTs === null || item.last_ts > s.lastTs)) {
      s.lastTs = item.last_ts;
      s.lastValue = item.last_value;
    }
  }
}

/** Inserts a point in time order (live points almost always go at the end). */
function insertPoint(points: Array<[number, number]>, ts: number, value: number): void {
  let i = points.length;
  while (i > 0 && points[i - 1][0] > ts) i -= 1;
  if (i > 0 && points[i - 1][0] === ts) points[i - 1] = [ts, value];
  else points.splice(i, 0, [ts, value]);
}

/** Drops what slid out of the window. */
function prune(s: SeriesState, now: number): void {
  const from = now - WINDOW_MS;
  let drop = 0;
  while (drop < s.points.length && s.points[drop][0] < from) drop += 1;
  drop = Math.max(drop, s.points.length - MAX_POINTS);
  if (drop > 0) s.points.splice(0, drop);
}

async function loadHistory(s: SeriesState): Promise<void> {
  s.history = 'loading';
  s.pending = [];
  try {
    const range = await api.iotRange(s.id, { start: Date.now() - WINDOW_MS, step: HISTORY_STEP, agg: 'avg' });
    const history = range.points.filter(([ts, v]) => Number.isFinite(ts) && Number.isFinite(v));
    // live points of the last step are already in its average
    const after = history.length ? history[history.length - 1][0] + HISTORY_STEP_MS : -Infinity;
    const live = [...s.points, ...s.pending].filter(([ts]) => ts >= after);
    s.points = history.map(([ts, v]) => [ts, v] as [number, number]);
    for (const [ts, v] of live) insertPoint(s.points, ts, v);
  } catch (error) {
    console.warn(`history of ${s.id}:`, error);
    for (const [ts, v] of s.pending) insertPoint(s.points, ts, v);
  } finally {
    s.pending = null;
    s.history = 'loaded';
  }
  dirtyCharts.add(s.field);
  scheduleRender();
}

/** Charts the fields with the most series first; a field seen later gets a chart while there is room. */
function chooseFields(): void {
  const counts = new Map<string, number>();
  for (const s of state.series.values()) counts.set(s.field, (counts.get(s.field) ?? 0) + 1);
  const waiting = [...counts.keys()]
    .filter((f) => !state.fields.includes(f))
    .sort((a, b) => (counts.get(b) ?? 0) - (counts.get(a) ?? 0) || a.localeCompare(b));
  while (state.fields.length < MAX_CHARTS && waiting.length > 0) {
    const field = waiting.shift() as string;
    state.fields.push(field);
    dirtyCharts.add(field);
  }
  const more = $('charts-more');
  more.hidden = waiting.length === 0;
  more.textContent = waiting.length ? t('iot.more', { n: waiting.length, fields: waiting.join(', ') }) : '';
}

// ---------------------------------------------------------------- charts

const charts = new Map<string, { el: HTMLElement; chart: Chart }>();
const dirtyCharts = new Set<string>();
/** One colour per device (source), the same in every chart. */
const sourceColors = new Map<string, string>();

function colorOf(source: string): string {
  let color = sourceColors.get(source);
  if (!color) {
    color = PALETTE[sourceColors.size % PALETTE.length];
    sourceColors.set(source, color);
  }
  return color;
}

function chartFor(field: string): { el: HTMLElement; chart: Chart } {
  let entry = charts.get(field);
  if (entry) return entry;
  const panel = document.createElement('section');
  panel.className = 'panel iot-chart';
  panel.dataset.field = field;
  panel.innerHTML = `<h2 class="panel-title"><span class="iot-field"></span><span class="iot-field-id"></span><span class="as-of"></span></h2>
    <div class="panel-body"><div class="chart" data-points="0" data-forecasts="0"></div></div>
    <p class="note iot-forecast-note"></p>`;
  $('iot-charts').append(panel);
  const el = panel.querySelector<HTMLElement>('.chart') as HTMLElement;
  el.dataset.field = field;
  const chart = echarts.init(el, undefined, { renderer: 'canvas' });
  new ResizeObserver(() => chart.resize()).observe(el);
  entry = { el, chart };
  charts.set(field, entry);
  $('charts-empty').hidden = true;
  return entry;
}

const reading = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });

/** A sensor value: up to two decimals, `—` when absent. */
function fmtReading(value: number | null | undefined): string {
  return value === null || value === undefined || !Number.isFinite(value) ? '—' : reading.format(value);
}

let rebuild = true;

function renderChart(field: string, now: number): void {
  const { el, chart } = chartFor(field);
  const members = [...state.series.values()]
    .filter((s) => s.field === field)
    .sort((a, b) => a.source.localeCompare(b.source));
  const panel = el.closest('.iot-chart') as HTMLElement;
  (panel.querySelector('.iot-field') as HTMLElement).textContent = fieldName(field);
  (panel.querySelector('.iot-field-id') as HTMLElement).textContent = fieldName(field) === field ? '' : field;
  (panel.querySelector('.as-of') as HTMLElement).textContent = t('iot.series', { n: members.length });
  const axisText = { color: C.dim, fontSize: 11, fontFamily: FONT };
  // The axis shows China Standard Time, like the rest of the dashboard: UTC fields, shifted.
  const shift = CST_OFFSET_MS;
  let drawn = 0;
  const forecasts = members.filter((s) => state.forecasts.has(s.id));
  const forecastSeries = forecasts.map((s) => forecastLine(s, shift));
  chart.setOption(
    {
      animation: MOTION,
      animationDurationUpdate: 300,
      useUTC: true,
      textStyle: { fontFamily: FONT },
      tooltip: {
        ...tooltip,
        trigger: 'axis',
        valueFormatter: (v: unknown) => fmtReading(Number(v)),
      },
      // one device a row at the right: the names stay whole
      legend: {
        type: 'scroll',
        orient: 'vertical',
        right: 0,
        top: 6,
        bottom: 6,
        itemWidth: 14,
        itemHeight: 6,
        itemGap: 8,
        pageIconColor: C.cyan,
        pageIconSize: 10,
        pageTextStyle: { color: C.dim },
        textStyle: { color: C.text, fontSize: 12, width: 92, overflow: 'truncate' },
        tooltip: { show: true },
      },
      // (ECharts 6 keeps the axis labels inside the chart by itself: grid.outerBoundsMode)
      grid: { left: 8, right: 124, top: 14, bottom: 4 },
      xAxis: {
        type: 'time',
        min: now - WINDOW_MS + shift,
        // room for the dashed forecasts after now
        max: now + (forecasts.length ? FORECAST_SPAN_MS : 0) + shift,
        axisLabel: { ...axisText, formatter: '{HH}:{mm}', hideOverlap: true },
        axisLine: { lineStyle: { color: 'rgba(127, 166, 201, 0.4)' } },
        axisTick: { show: false },
        splitLine: { show: false },
      },
      yAxis: {
        type: 'value',
        scale: true,
        axisLabel: { ...axisText, formatter: (v: number) => fmtReading(v) },
        splitLine: { lineStyle: { color: C.faint, type: 'dashed' } },
      },
      series: members.map((s): Record<string, unknown> => {
        const color = colorOf(s.source);
        const data = s.points.filter(([ts]) => ts >= now - WINDOW_MS).map(([ts, v]) => [ts + shift, v]);
        drawn += data.length;
        return {
          id: s.id,
          name: lineName(s.source),
          type: 'line',
          showSymbol: data.length === 1,
          symbolSize: 5,
          data,
          lineStyle: { width: 1.8, color },
          itemStyle: { color },
          emphasis: { focus: 'series' },
        };
      }).concat(forecastSeries),
    },
    rebuild ? { notMerge: true } : { replaceMerge: ['series'] },
  );
  el.dataset.points = String(drawn);
  el.dataset.lines = String(members.length);
  // what the chart really holds: the e2e test checks the overlay is drawn
  const drawnSeries = (chart.getOption() as { series?: Array<{ id?: string; data?: unknown[] }> }).series ?? [];
  el.dataset.forecasts = String(drawnSeries.filter((x) => String(x.id).endsWith('#forecast') && (x.data?.length ?? 0) > 1).length);
  const note = panel.querySelector('.iot-forecast-note') as HTMLElement;
  note.textContent = forecasts.length ? forecastNote(forecasts.map((s) => state.forecasts.get(s.id) as IotForecast)) : '';
}

/** A series' forecast as a dashed line in its colour, from its newest charted point on. */
function forecastLine(s: SeriesState, shift: number): Record<string, unknown> {
  const f = state.forecasts.get(s.id) as IotForecast;
  const color = colorOf(s.source);
  const last = s.points[s.points.length - 1];
  const ahead = f.points.filter(([ts]) => !last || ts > last[0]);
  const data = [...(last ? [last] : []), ...ahead].map(([ts, v]) => [ts + shift, v]);
  return {
    id: `${s.id}#forecast`,
    // the device's name: its legend entry shows and hides both lines
    name: lineName(s.source),
    type: 'line',
    showSymbol: false,
    data,
    lineStyle: { width: 1.6, color, type: 'dashed', opacity: 0.85 },
    itemStyle: { color },
    tooltip: { valueFormatter: (v: unknown) => `${fmtReading(Number(v))} (${t('iot.forecast', { name: '' }).trim()})` },
  };
}

/** The chart's forecasts in a line: step, mean backtest error of the model and of the last value. */
function forecastNote(list: IotForecast[]): string {
  const mean = (f: (x: IotForecast) => number) => list.reduce((sum, x) => sum + f(x), 0) / list.length;
  return t('iot.forecastNote', {
    step: FORECAST_STEP,
    model: fmtReading(mean((x) => x.backtest.model_mae)),
    baseline: fmtReading(mean((x) => x.backtest.baseline_mae)),
  });
}

function renderCharts(fromScratch: boolean): void {
  const now = Date.now();
  for (const s of state.series.values()) prune(s, now);
  chooseFields();
  rebuild = fromScratch;
  // nobody looks at a hidden tab's charts: they catch up when it is shown again
  if (document.hidden) return;
  for (const field of state.fields) {
    if (fromScratch || dirtyCharts.has(field) || !charts.has(field)) renderChart(field, now);
  }
  dirtyCharts.clear();
}

let renderTimer = 0;

/** Draws what the stream brought, once per RENDER_DELAY_MS however many events came. */
function scheduleRender(): void {
  if (renderTimer) return;
  renderTimer = window.setTimeout(() => {
    renderTimer = 0;
    renderCharts(false);
    renderLatest();
    renderCounters();
    if (windowsDirty) renderWindows();
  }, RENDER_DELAY_MS);
}

// ---------------------------------------------------------------- tables

const rows = new Map<string, HTMLTableRowElement>();
const dirtyRows = new Set<string>();

function tagsHtml(tags: Record<string, string>): string {
  const entries = Object.entries(tags);
  if (entries.length === 0) return '<span class="note">—</span>';
  return entries.map(([k, v]) => `<span class="iot-tag">${escapeHtml(k)}=${escapeHtml(v)}</span>`).join('');
}

function fillRow(tr: HTMLTableRowElement, s: SeriesState): void {
  tr.dataset.series = s.id;
  tr.dataset.origin = s.origin;
  tr.innerHTML = `
    <td class="iot-id">${escapeHtml(s.id)}</td>
    <td>${tagsHtml(s.tags)}</td>
    <td class="num iot-value" data-value="${s.lastValue ?? ''}">${escapeHtml(fmtReading(s.lastValue))}</td>
    <td class="mono" data-ts="${s.lastTs ?? ''}">${s.lastTs === null ? '—' : escapeHtml(formatEpoch(s.lastTs))}</td>
    <td class="num">${escapeHtml(fmtNum(s.count))}</td>`;
}

function sortedSeries(): SeriesState[] {
  return [...state.series.values()].sort((a, b) => a.id.localeCompare(b.id));
}

/** Updates the rows of the series that changed, adding new ones in order. */
function renderLatest(all = false): void {
  const body = $('latest-rows');
  if (state.series.size === 0) {
    rows.clear();
    body.innerHTML = `<tr><td class="empty" colspan="5">${escapeHtml(t('iot.noSeries'))}</td></tr>`;
    return;
  }
  body.querySelector('td.empty')?.closest('tr')?.remove();
  let previous: HTMLTableRowElement | null = null;
  for (const s of sortedSeries()) {
    let tr = rows.get(s.id) ?? null;
    if (!tr) {
      tr = document.createElement('tr');
      rows.set(s.id, tr);
      fillRow(tr, s);
      if (previous) previous.after(tr);
      else body.prepend(tr);
      if (s.origin === 'stream') flash(tr);
    } else if (all || dirtyRows.has(s.id)) {
      fillRow(tr, s);
      if (!all) flash(tr);
    }
    previous = tr;
  }
  dirtyRows.clear();
  const ids = $('series-ids');
  if (ids.childElementCount !== state.series.size) {
    ids.replaceChildren(...sortedSeries().map((s) => new Option(s.id, s.id)));
  }
}

function flash(tr: HTMLTableRowElement): void {
  tr.classList.remove('fresh');
  // restart the animation
  void tr.offsetWidth;
  tr.classList.add('fresh');
}

function renderStats(): void {
  const body = $('stats-rows');
  if (!state.statsLoaded) return;
  const stats = [...state.stats].sort((a, b) => a.id.localeCompare(b.id));
  body.innerHTML = stats.length
    ? stats
        .map(
          (s) => `<tr data-series="${escapeHtml(s.id)}">
        <td class="iot-id">${escapeHtml(s.id)}</td>
        <td class="num">${escapeHtml(fmtNum(s.count))}</td>
        <td class="num">${escapeHtml(fmtReading(s.avg))}</td>
        <td class="num">${escapeHtml(fmtReading(s.min))}</td>
        <td class="num">${escapeHtml(fmtReading(s.max))}</td>
      </tr>`,
        )
        .join('')
    : `<tr><td class="empty" colspan="5">${escapeHtml(t('iot.statsEmpty'))}</td></tr>`;
}

function renderCounters(): void {
  const all = [...state.series.values()];
  const set = (id: string, value: number) => {
    const el = $(id);
    el.dataset.value = String(value);
    el.textContent = fmtNum(value);
  };
  set('counter-series', all.length);
  set('counter-devices', new Set(all.map(device)).size);
  set('counter-received', state.received);
  const last = Math.max(-Infinity, ...all.map((s) => s.lastTs ?? -Infinity));
  const el = $('counter-last');
  el.textContent = Number.isFinite(last) ? formatEpoch(last).slice(11) : '—';
  el.title = Number.isFinite(last) ? formatEpoch(last) : '';
}

// ---------------------------------------------------------------- windows

/** `HH:MM–HH:MM` (China Standard Time) of a window. */
function windowSpan(w: IotWindow): string {
  return `${formatEpoch(w.start).slice(11, 16)}–${formatEpoch(w.end).slice(11, 16)}`;
}

/** Shows `shown` in its cell unless the cell already shows a newer closed window. */
function showWindow(id: string, key: WindowKey, shown: ShownWindow): void {
  const row = state.windows.get(id) ?? {};
  const current = row[key];
  const newer = !current || current.open || shown.window.start >= current.window.start;
  if (!newer || (current && !current.open && shown.open)) return;
  row[key] = shown;
  state.windows.set(id, row);
}

/** Every series' newest closed (else current) window of both live kinds. */
async function loadWindows(): Promise<void> {
  try {
    const answers = await Promise.all(WINDOW_KINDS.map((k) => api.iotWindows({ ...k.params, limit: 1 })));
    WINDOW_KINDS.forEach((k, i) => {
      state.latenessMs = answers[i].lateness_ms;
      for (const s of answers[i].series) {
        const closed = s.closed[s.closed.length - 1];
        const open = s.open[s.open.length - 1];
        if (closed) showWindow(s.id, k.key, { window: closed, open: false });
        else if (open) showWindow(s.id, k.key, { window: open, open: true });
      }
    });
    state.windowsLoaded = true;
  } catch (error) {
    console.warn('windows:', error);
  }
  renderWindows();
}

/** A live window closed: its cell shows it. */
function onWindow(event: IotWindowEvent): void {
  const kind = WINDOW_KINDS.find((k) => k.key === event.kind && k.sizeMs === event.size_ms && k.slideMs === event.slide_ms);
  if (!kind || typeof event.series !== 'string') return;
  showWindow(event.series, kind.key, { window: event, open: false });
  windowsDirty = true;
  scheduleRender();
}

let windowsDirty = false;

function windowCells(shown: ShownWindow | undefined): string {
  if (!shown) return '<td class="iot-window-cell">—</td><td class="num">—</td><td class="num">—</td><td class="num">—</td>';
  const w = shown.window;
  const open = shown.open ? ` <span class="note">(${escapeHtml(t('iot.windowOpen'))})</span>` : '';
  return `<td class="mono iot-window-cell" data-open="${shown.open}" data-start="${w.start}" data-count="${w.count}">${escapeHtml(windowSpan(w))}${open}</td>
    <td class="num" data-value="${w.avg}">${escapeHtml(fmtReading(w.avg))}</td>
    <td class="num">${escapeHtml(fmtReading(w.min))}</td>
    <td class="num">${escapeHtml(fmtReading(w.max))}</td>`;
}

function renderWindows(): void {
  windowsDirty = false;
  const body = $('window-rows');
  $('windows-note').textContent = t('iot.windowsNote', { lateness: state.latenessMs / 1000 });
  const ids = [...state.windows.keys()].sort((a, b) => a.localeCompare(b));
  if (ids.length === 0) {
    body.innerHTML = state.windowsLoaded ? `<tr><td class="empty" colspan="9">${escapeHtml(t('iot.windowsEmpty'))}</td></tr>` : '';
    return;
  }
  body.innerHTML = ids
    .map((id) => {
      const row = state.windows.get(id) ?? {};
      return `<tr data-series="${escapeHtml(id)}"><td class="iot-id">${escapeHtml(id)}</td>${windowCells(row.tumbling)}${windowCells(row.sliding)}</tr>`;
    })
    .join('');
}

// ---------------------------------------------------------------- forecasts

const forecastsInFlight = new Set<string>();

/** Asks for a series' forecast; too little history (422) leaves it without one for now. */
async function loadForecast(s: SeriesState): Promise<void> {
  if (forecastsInFlight.has(s.id)) return;
  forecastsInFlight.add(s.id);
  state.forecastAsked.set(s.id, Date.now());
  try {
    const f = await api.iotForecast(s.id, { step: FORECAST_STEP, horizon: FORECAST_HORIZON });
    state.forecasts.set(s.id, f);
  } catch (error) {
    // 422: not enough history yet; 404: the series is gone
    if (!(error instanceof ApiError)) console.warn(`forecast of ${s.id}:`, error);
    state.forecasts.delete(s.id);
  } finally {
    forecastsInFlight.delete(s.id);
  }
  dirtyCharts.add(s.field);
  scheduleRender();
}

/** Re-asks for the forecasts of the charted series not asked for in a while. */
function refreshForecasts(): void {
  if (document.hidden) return;
  const now = Date.now();
  for (const s of state.series.values()) {
    if (!state.fields.includes(s.field) || s.history !== 'loaded' || s.points.length < 2) continue;
    if (s.points[s.points.length - 1][0] - s.points[0][0] < FORECAST_MIN_SPAN_MS) continue;
    if (now - (state.forecastAsked.get(s.id) ?? 0) >= FORECAST_REFRESH_MS) void loadForecast(s);
  }
}

// ---------------------------------------------------------------- data loading

function showError(error: unknown): void {
  const el = $('error');
  el.textContent = error instanceof Error ? error.message : String(error);
  el.hidden = false;
}

/** The series list (tags, counts, newest values), then the history of every charted series still without one. */
async function loadSeries(first = false): Promise<void> {
  let listed: IotSeries[];
  try {
    listed = await api.iotSeries();
  } catch (error) {
    console.warn('series:', error);
    showError(error);
    return;
  }
  $('error').hidden = true;
  mergeListed(listed, first);
  for (const s of state.series.values()) dirtyRows.add(s.id);
  chooseFields();
  const charted = [...state.series.values()].filter((s) => s.history === 'none' && state.fields.includes(s.field));
  await Promise.all(charted.map((s) => loadHistory(s)));
}

let seriesRefreshTimer = 0;

/** Fetches the list again soon: a series new on the stream lacks its tags. */
function scheduleSeriesRefresh(): void {
  if (seriesRefreshTimer) return;
  seriesRefreshTimer = window.setTimeout(() => {
    seriesRefreshTimer = 0;
    void loadSeries().then(() => scheduleRender());
  }, SERIES_REFRESH_DELAY_MS);
}

let statsInFlight = false;
let statsLoadedAt = 0;

async function refreshStats(): Promise<void> {
  if (statsInFlight) return;
  statsInFlight = true;
  statsLoadedAt = Date.now();
  try {
    state.stats = await api.iotStats('15m');
    state.statsLoaded = true;
    renderStats();
  } catch (error) {
    console.warn('stats:', error);
  } finally {
    statsInFlight = false;
  }
}

// ---------------------------------------------------------------- live stream

function onPoints(batch: IotPoint[]): void {
  let added = false;
  for (const p of batch) {
    if (!p || typeof p.series !== 'string' || !Number.isFinite(p.ts) || !Number.isFinite(p.value)) continue;
    state.received += 1;
    let s = state.series.get(p.series);
    if (!s) {
      s = addSeries(p.series, 'stream');
      added = true;
    }
    s.count += 1;
    if (s.lastTs === null || p.ts >= s.lastTs) {
      s.lastTs = p.ts;
      s.lastValue = p.value;
    }
    if (s.pending) s.pending.push([p.ts, p.value]);
    else insertPoint(s.points, p.ts, p.value);
    dirtyRows.add(s.id);
    dirtyCharts.add(s.field);
  }
  // how many points this page has had: the e2e test checks the stream is flowing
  $('conn').dataset.received = String(state.received);
  if (added) scheduleSeriesRefresh();
  scheduleRender();
}

function onTick(): void {
  // the time axes slide with the clock
  for (const field of state.fields) dirtyCharts.add(field);
  scheduleRender();
  if (!document.hidden && Date.now() - statsLoadedAt >= STATS_REFRESH_MS) void refreshStats();
  refreshForecasts();
}

function setConnection(stateName: 'live' | 'lost' | 'connecting'): void {
  const el = $('conn');
  el.dataset.state = stateName;
  const text = $('conn-text');
  text.dataset.i18n = `conn.${stateName}`;
  text.textContent = t(`conn.${stateName}`);
}

function connect(): void {
  const source = new EventSource('/api/stream');
  let opened = false;
  setConnection('connecting');
  source.addEventListener('open', () => {
    setConnection('live');
    // after a reconnect, catch up on the newest values sent while we were away
    if (opened) {
      void loadSeries().then(() => scheduleRender());
      void loadWindows();
    }
    opened = true;
  });
  source.addEventListener('points', (event) => {
    try {
      const data = JSON.parse((event as MessageEvent<string>).data) as unknown;
      onPoints(Array.isArray(data) ? (data as IotPoint[]) : [data as IotPoint]);
    } catch (error) {
      console.warn('points:', error);
    }
  });
  source.addEventListener('window', (event) => {
    try {
      onWindow(JSON.parse((event as MessageEvent<string>).data) as IotWindowEvent);
    } catch (error) {
      console.warn('window:', error);
    }
  });
  // `tick` only paces the stats, the forecasts and the sliding time axes; `warning` is the big screen's
  source.addEventListener('tick', onTick);
  source.addEventListener('error', () => {
    setConnection('lost');
    // The browser gives up for good when an answer is not an event stream
    // (a proxy's 502, say); EventSource retries everything else itself.
    if (source.readyState === EventSource.CLOSED) window.setTimeout(connect, 5000);
  });
}

// ---------------------------------------------------------------- publish and read

function errorText(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return error instanceof ApiError && error.parameter ? t('q.errorParam', { parameter: error.parameter }) + message : message;
}

function renderPublish(): void {
  const el = $('publish-result');
  const r = state.publish;
  if (!r) {
    el.textContent = '';
    delete el.dataset.status;
    return;
  }
  el.dataset.status = r.ok ? r.result.status : 'error';
  el.textContent = r.ok ? `✓ ${t('iot.published', { topic: r.result.topic })}` : `✗ ${r.message}`;
}

function renderRead(): void {
  const el = $('read-result');
  const r = state.read;
  if (!r) {
    el.textContent = '';
    delete el.dataset.status;
    delete el.dataset.value;
    return;
  }
  el.dataset.status = r.ok ? r.result.status : 'error';
  el.dataset.value = r.ok && r.result.value !== null ? String(r.result.value) : '';
  if (!r.ok) el.textContent = `✗ ${r.message}`;
  else if (r.result.status === 'ok' && r.result.value !== null) el.textContent = `${r.result.id} = ${fmtReading(r.result.value)}`;
  else el.textContent = t('iot.notFound', { id: r.result.id });
}

$('publish-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const topic = $<HTMLInputElement>('pub-topic').value.trim();
  const payload = $<HTMLTextAreaElement>('pub-payload').value;
  if (!topic) return;
  const button = $<HTMLButtonElement>('pub-submit');
  const el = $('publish-result');
  button.disabled = true;
  el.dataset.status = 'pending';
  el.textContent = t('iot.publishing');
  try {
    state.publish = { ok: true, result: await api.publish(topic, payload) };
  } catch (error) {
    console.warn('publish:', error);
    state.publish = { ok: false, message: errorText(error) };
  } finally {
    button.disabled = false;
  }
  renderPublish();
});

$('read-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const id = $<HTMLInputElement>('read-id').value.trim();
  if (!id) return;
  const button = $<HTMLButtonElement>('read-submit');
  const el = $('read-result');
  button.disabled = true;
  el.dataset.status = 'pending';
  el.textContent = t('iot.reading');
  try {
    state.read = { ok: true, result: await api.latest(id) };
  } catch (error) {
    console.warn('get_data:', error);
    state.read = { ok: false, message: errorText(error) };
  } finally {
    button.disabled = false;
  }
  renderRead();
});

// a click on a series in the tables reads its latest value
for (const table of ['iot-table', 'stats-table', 'windows-table']) {
  $(table).addEventListener('click', (event) => {
    const tr = (event.target as HTMLElement).closest<HTMLTableRowElement>('tr[data-series]');
    if (!tr?.dataset.series) return;
    $<HTMLInputElement>('read-id').value = tr.dataset.series;
    $<HTMLFormElement>('read-form').requestSubmit();
  });
}

// ---------------------------------------------------------------- start

onLangChange(() => {
  renderCharts(true);
  renderLatest(true);
  renderStats();
  renderWindows();
  renderPublish();
  renderRead();
});

document.addEventListener('visibilitychange', () => {
  if (!document.hidden) renderCharts(true);
});

renderLatest();
renderCounters();
// The stream first: points sent while the list and the histories load are kept
// (a series' live points wait in `pending` until its history is in).
connect();
void refreshStats();
void loadWindows();
void loadSeries(true).then(() => {
  renderCharts(true);
  renderLatest(true);
  renderCounters();
  refreshForecasts();
  const first = sortedSeries()[0];
  if (first && !$<HTMLInputElement>('read-id').value) $<HTMLInputElement>('read-id').value = first.id;
});
