// 数据大屏: counters, four charts and the live warning list, kept current by the
// Server-Sent Events of /api/stream (no polling loops).
import './style.css';
import { api, type HourValue, type NameValue, type Summary, type Tick, type Warning } from './api';
import { CHINA, createChart, echarts, provinceCenter, registerChina } from './chinaMap';
import { chinaNow, escapeHtml, fmtInterval, fmtNum, previousDay, shiftWall } from './format';
import { initI18n, intervalUnits, onLangChange, ruleName, t, tv } from './i18n';
import { C, FONT, MOTION, PALETTE, scale, tooltip } from './theme';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

/** Stats charts are re-fetched at most this often, driven by the stream's ticks. */
const CHART_REFRESH_MS = 5000;
const MAX_WARNINGS = 50;

registerChina();
initI18n();

const charts = {
  ranking: createChart($('chart-ranking')),
  flow: createChart($('chart-flow')),
  map: createChart($('chart-map')),
  pie: createChart($('chart-pie')),
};

const state = {
  summary: null as Summary | null,
  ranking: [] as NameValue[],
  flowToday: [] as HourValue[],
  flowYesterday: [] as HourValue[],
  flowDate: '',
  mapData: [] as NameValue[],
  vehicleTypes: [] as NameValue[],
  warnings: [] as Warning[],
  warningIds: new Set<string>(),
};

// ---------------------------------------------------------------- counters

const counterTweens = new Map<HTMLElement, number>();

/** Sets a counter, counting up (or down) to the new value over ~0.6 s. */
function setCounter(el: HTMLElement, value: number): void {
  const from = Number(el.dataset.value ?? '0');
  el.dataset.value = String(value);
  const previous = counterTweens.get(el);
  if (previous) cancelAnimationFrame(previous);
  if (from === value || el.textContent === '—' || document.hidden) {
    el.textContent = fmtNum(value);
    return;
  }
  const start = performance.now();
  const step = (now: number) => {
    // A frame may be stamped before `start`: never run the tween backwards.
    const k = Math.min(1, Math.max(0, (now - start) / 600));
    const eased = 1 - (1 - k) ** 3;
    el.textContent = fmtNum(Math.round(from + (value - from) * eased));
    if (k < 1) counterTweens.set(el, requestAnimationFrame(step));
    else counterTweens.delete(el);
  };
  counterTweens.set(el, requestAnimationFrame(step));
}

function renderSummary(summary: Summary): void {
  state.summary = summary;
  setCounter($('counter-total'), summary.total_records);
  setCounter($('counter-today'), summary.records_today);
  setCounter($('counter-minute'), summary.last_minute);
  setCounter($('counter-warnings'), summary.warnings_total);
  $('as-of').textContent = `${t('asOf')} ${summary.as_of}`;
}

// ---------------------------------------------------------------- charts

function renderRanking(): void {
  const s = scale();
  const data = state.ranking;
  const max = Math.max(1, ...data.map((d) => d.value));
  charts.ranking.setOption(
    {
      animation: MOTION,
      textStyle: { fontFamily: FONT },
      tooltip: { ...tooltip, trigger: 'item', valueFormatter: (v: unknown) => fmtNum(Number(v)) },
      grid: { left: 6 * s, right: 64 * s, top: 22 * s, bottom: 4 * s },
      xAxis: { type: 'value', show: false, max },
      yAxis: [
        {
          type: 'category',
          inverse: true,
          data: data.map((d) => d.name),
          axisLabel: { show: false },
          axisLine: { show: false },
          axisTick: { show: false },
        },
        {
          type: 'category',
          inverse: true,
          position: 'right',
          data: data.map((d) => fmtNum(d.value)),
          axisLabel: { color: C.cyan, fontSize: 14 * s, fontWeight: 'bold', margin: 8 * s },
          axisLine: { show: false },
          axisTick: { show: false },
        },
      ],
      series: [
        {
          type: 'bar',
          data: data.map((d, i) => ({
            name: d.name,
            value: d.value,
            itemStyle: {
              color: new echarts.graphic.LinearGradient(0, 0, 1, 0, [
                { offset: 0, color: i < 3 ? 'rgba(255, 184, 0, 0.25)' : 'rgba(30, 144, 255, 0.25)' },
                { offset: 1, color: i < 3 ? C.gold : C.cyan },
              ]),
            },
          })),
          barWidth: Math.max(6, 9 * s),
          showBackground: true,
          backgroundStyle: { color: 'rgba(0, 229, 255, 0.07)', borderRadius: 5 },
          itemStyle: { borderRadius: 5 },
          label: {
            show: true,
            position: [0, -5 * s],
            align: 'left',
            verticalAlign: 'bottom',
            formatter: (p: { dataIndex: number; name: string }) =>
              `{${p.dataIndex < 3 ? 'top' : 'rank'}|NO.${p.dataIndex + 1}} {name|${p.name}}`,
            rich: {
              top: { color: C.gold, fontSize: 13 * s, fontWeight: 'bold', fontFamily: FONT },
              rank: { color: C.dim, fontSize: 13 * s, fontWeight: 'bold', fontFamily: FONT },
              name: { color: C.text, fontSize: 14 * s, fontFamily: FONT },
            },
          },
        },
      ],
    },
    { notMerge: rebuild },
  );
  $('chart-ranking').dataset.points = String(data.length);
}

function renderFlow(): void {
  const s = scale();
  // Today's hours after the newest pass have not happened yet: leave them out.
  const asOfHour = state.summary ? Number(state.summary.as_of.slice(11, 13)) : 23;
  const today = state.flowToday.map((h) => (h.hour <= asOfHour ? h.value : null));
  const yesterday = state.flowYesterday.map((h) => h.value);
  const hours = Array.from({ length: 24 }, (_, h) => `${String(h).padStart(2, '0')}${t('flow.hourUnit')}`);
  const axisText = { color: C.dim, fontSize: 12 * s, fontFamily: FONT };
  charts.flow.setOption(
    {
      animation: MOTION,
      textStyle: { fontFamily: FONT },
      tooltip: { ...tooltip, trigger: 'axis', valueFormatter: (v: unknown) => (v == null ? '—' : fmtNum(Number(v))) },
      legend: {
        top: 0,
        right: 8 * s,
        itemWidth: 18 * s,
        itemHeight: 8 * s,
        textStyle: { color: C.text, fontSize: 13 * s },
        data: [t('flow.today'), t('flow.yesterday')],
      },
      grid: { left: 12 * s, right: 18 * s, top: 34 * s, bottom: 6 * s, containLabel: true },
      xAxis: {
        type: 'category',
        boundaryGap: false,
        data: hours,
        axisLabel: { ...axisText, interval: 2 },
        axisLine: { lineStyle: { color: 'rgba(127, 166, 201, 0.4)' } },
        axisTick: { show: false },
      },
      yAxis: {
        type: 'value',
        axisLabel: { ...axisText, formatter: (v: number) => fmtNum(v) },
        splitLine: { lineStyle: { color: C.faint, type: 'dashed' } },
      },
      series: [
        {
          name: t('flow.today'),
          type: 'line',
          smooth: true,
          symbol: 'circle',
          symbolSize: 5 * s,
          showSymbol: false,
          data: today,
          lineStyle: { width: 2.5 * s, color: C.cyan, shadowColor: C.cyan, shadowBlur: 8 },
          itemStyle: { color: C.cyan },
          areaStyle: {
            color: new echarts.graphic.LinearGradient(0, 0, 0, 1, [
              { offset: 0, color: 'rgba(0, 229, 255, 0.45)' },
              { offset: 1, color: 'rgba(0, 229, 255, 0.02)' },
            ]),
          },
        },
        {
          name: t('flow.yesterday'),
          type: 'line',
          smooth: true,
          showSymbol: false,
          data: yesterday,
          lineStyle: { width: 1.5 * s, color: C.gold, type: 'dashed' },
          itemStyle: { color: C.gold },
        },
      ],
    },
    { notMerge: rebuild },
  );
  const points = today.filter((v) => v !== null).length + yesterday.length;
  $('chart-flow').dataset.points = String(points);
}

/** Piecewise ranges by powers of ten: the counts span several orders of magnitude. */
function mapPieces(max: number) {
  const colors = ['#0b3b73', '#1565c0', '#1e90ff', '#00c2e0', '#2ee6a6', '#ffb800', '#ff7a45'];
  const pieces: Array<{ min: number; max?: number; label: string; color: string }> = [];
  let low = 1;
  let i = 0;
  while (low <= max || i === 0) {
    const high = low * 10 - 1;
    const last = high >= max;
    pieces.push({
      min: low,
      ...(last ? {} : { max: high }),
      label: last ? `≥ ${fmtNum(low)}` : `${fmtNum(low)} – ${fmtNum(high)}`,
      color: colors[Math.min(i, colors.length - 1)],
    });
    if (last) break;
    low *= 10;
    i += 1;
  }
  return pieces.reverse();
}

function renderMap(): void {
  const s = scale();
  const data = state.mapData.filter((d) => d.value > 0);
  const max = Math.max(1, ...data.map((d) => d.value));
  const top = [...data].sort((a, b) => b.value - a.value).slice(0, 5);
  const topPoints = top.flatMap((d) => {
    const c = provinceCenter(d.name);
    // labels point away from the map's middle, so neighbours (四川 / 重庆) do not collide
    return c ? [{ name: d.name, value: [c[0], c[1], d.value], label: { position: c[0] < 105 ? 'left' : 'right' } }] : [];
  });
  charts.map.setOption(
    {
      animation: MOTION,
      textStyle: { fontFamily: FONT },
      tooltip: {
        ...tooltip,
        trigger: 'item',
        formatter: (p: { name: string; value: unknown }) => {
          const v = Array.isArray(p.value) ? p.value[2] : p.value;
          return `${escapeHtml(tv(p.name))}<br/><b style="color:${C.cyan}">${
            typeof v === 'number' && Number.isFinite(v) ? fmtNum(v) : t('map.noData')
          }</b>`;
        },
      },
      visualMap: {
        type: 'piecewise',
        seriesIndex: 0,
        pieces: mapPieces(max),
        left: 12 * s,
        bottom: 12 * s,
        itemWidth: 16 * s,
        itemHeight: 10 * s,
        itemGap: 6 * s,
        text: [t('map.legendTitle'), ''],
        showLabel: true,
        textStyle: { color: C.text, fontSize: 12 * s },
        outOfRange: { color: 'rgba(13, 40, 82, 0.8)' },
      },
      geo: {
        map: CHINA,
        roam: false,
        top: 12 * s,
        bottom: 8 * s,
        left: 24 * s,
        right: 12 * s,
        aspectScale: 0.78,
        label: {
          show: true,
          color: 'rgba(207, 232, 255, 0.55)',
          fontSize: 10 * s,
          formatter: (p: { name: string }) => tv(p.name),
        },
        itemStyle: {
          areaColor: 'rgba(13, 40, 82, 0.8)',
          borderColor: 'rgba(0, 229, 255, 0.55)',
          borderWidth: 0.8,
          shadowColor: 'rgba(0, 229, 255, 0.35)',
          shadowBlur: 10,
        },
        emphasis: {
          label: { color: '#fff' },
          itemStyle: { areaColor: '#ffb800' },
        },
        select: { disabled: true },
      },
      series: [
        {
          type: 'map',
          geoIndex: 0,
          data: data.map((d) => ({ name: d.name, value: d.value })),
        },
        {
          type: 'effectScatter',
          coordinateSystem: 'geo',
          data: topPoints,
          symbolSize: (v: number[]) => (6 + Math.min(10, Math.log10(Math.max(1, v[2])) * 2)) * s,
          rippleEffect: { scale: 3.5, brushType: 'stroke' },
          itemStyle: { color: C.gold, shadowBlur: 10, shadowColor: C.gold },
          label: {
            show: true,
            formatter: (p: { name: string; value: number[] }) => `${tv(p.name)} ${fmtNum(p.value[2])}`,
            color: '#fff',
            fontSize: 13 * s,
            fontWeight: 'bold',
            backgroundColor: 'rgba(4, 22, 52, 0.75)',
            borderColor: 'rgba(255, 184, 0, 0.6)',
            borderWidth: 1,
            padding: [3 * s, 6 * s],
            borderRadius: 3,
          },
          labelLayout: { moveOverlap: 'shiftY' },
          zlevel: 1,
        },
      ],
    },
    { notMerge: rebuild },
  );
  $('chart-map').dataset.points = String(data.filter((d) => provinceCenter(d.name)).length);
}

function renderPie(): void {
  const s = scale();
  const data = state.vehicleTypes.filter((d) => d.value > 0);
  const total = data.reduce((sum, d) => sum + d.value, 0) || 1;
  const byName = new Map(data.map((d) => [tv(d.name), d.value]));
  charts.pie.setOption(
    {
      animation: MOTION,
      color: PALETTE,
      textStyle: { fontFamily: FONT },
      tooltip: {
        ...tooltip,
        trigger: 'item',
        formatter: (p: { name: string; value: number; percent: number }) =>
          `${escapeHtml(p.name)}<br/><b style="color:${C.cyan}">${fmtNum(p.value)}</b> (${p.percent.toFixed(1)}%)`,
      },
      legend: {
        orient: 'vertical',
        right: 10 * s,
        top: 'middle',
        itemWidth: 10 * s,
        itemHeight: 10 * s,
        itemGap: 12 * s,
        icon: 'rect',
        formatter: (name: string) => {
          const v = byName.get(name) ?? 0;
          return `{name|${name}}{pct|${((v / total) * 100).toFixed(1)}%}`;
        },
        textStyle: {
          color: C.text,
          rich: {
            name: { fontSize: 13 * s, width: 96 * s, color: C.text, fontFamily: FONT },
            pct: { fontSize: 13 * s, color: C.cyan, fontWeight: 'bold', width: 48 * s, align: 'right' },
          },
        },
      },
      series: [
        {
          type: 'pie',
          radius: ['42%', '68%'],
          center: ['30%', '52%'],
          avoidLabelOverlap: true,
          label: {
            show: true,
            position: 'center',
            formatter: () => `{v|${fmtNum(total)}}\n{l|${t('counter.total')}}`,
            rich: {
              v: { fontSize: 18 * s, fontWeight: 'bold', color: '#fff', lineHeight: 26 * s },
              l: { fontSize: 12 * s, color: C.dim },
            },
          },
          emphasis: { scale: true, scaleSize: 6 },
          labelLine: { show: false },
          itemStyle: { borderColor: '#031126', borderWidth: 2 },
          data: data.map((d) => ({ name: tv(d.name), value: d.value })),
        },
        {
          // a thin decorative ring around the donut
          type: 'pie',
          radius: ['73%', '74.5%'],
          center: ['30%', '52%'],
          silent: true,
          label: { show: false },
          itemStyle: { color: 'rgba(0, 229, 255, 0.35)' },
          data: [1],
        },
      ],
    },
    { notMerge: rebuild },
  );
  $('chart-pie').dataset.points = String(data.length);
}

/**
 * Fresh numbers merge into the charts, so they move smoothly instead of replaying the
 * opening animation every few seconds; a language switch or resize rebuilds them.
 */
let rebuild = true;

function renderCharts(fromScratch = true): void {
  rebuild = fromScratch;
  renderRanking();
  renderFlow();
  renderMap();
  renderPie();
}

// ---------------------------------------------------------------- data loading

let summaryInFlight = false;
async function refreshSummary(): Promise<Summary | null> {
  if (summaryInFlight) return null;
  summaryInFlight = true;
  try {
    const summary = await api.summary();
    renderSummary(summary);
    return summary;
  } catch (error) {
    console.warn('summary:', error);
    return null;
  } finally {
    summaryInFlight = false;
  }
}

let chartsInFlight = false;
let chartsLoadedAt = 0;

async function refreshCharts(): Promise<void> {
  if (chartsInFlight) return;
  chartsInFlight = true;
  chartsLoadedAt = Date.now();
  try {
    const today = (state.summary?.as_of ?? chinaNow()).slice(0, 10);
    const [ranking, flowToday, flowYesterday, mapData, vehicleTypes] = await Promise.all([
      api.kkmcCount(10),
      api.flow24h(today),
      // yesterday's curve does not change: fetch it once per day
      state.flowDate === today ? Promise.resolve(state.flowYesterday) : api.flow24h(previousDay(today)),
      api.mapData(),
      api.vehicleType(),
    ]);
    Object.assign(state, { ranking, flowToday, flowYesterday, flowDate: today, mapData, vehicleTypes });
    renderCharts(false);
  } catch (error) {
    console.warn('stats:', error);
  } finally {
    chartsInFlight = false;
  }
}

// ---------------------------------------------------------------- warnings

/** The trail of a warning's plate, an hour either side of its two sightings. */
function trailHref(w: Warning): string {
  const [early, late] = w.first.gcsj <= w.second.gcsj ? [w.first, w.second] : [w.second, w.first];
  const q = new URLSearchParams({
    hphm: w.hphm,
    start: shiftWall(early.gcsj, -3600),
    end: shiftWall(late.gcsj, 3600),
  });
  return `trail.html?${q}`;
}

function warningItem(w: Warning, live = false): HTMLLIElement {
  const li = document.createElement('li');
  li.className = live ? 'warn-item fresh' : 'warn-item';
  li.dataset.id = w.id;
  li.dataset.hphm = w.hphm;
  const time = (gcsj: string) => `<time title="${escapeHtml(gcsj)}">${escapeHtml(gcsj.slice(11))}</time>`;
  const speed = w.speed_kmh === null ? '∞' : fmtNum(w.speed_kmh);
  li.innerHTML = `
    <a class="warn-link" href="${escapeHtml(trailHref(w))}">
      <div class="warn-top">
        <span class="plate">${escapeHtml(w.hphm)}</span>
        <span class="rule rule-${escapeHtml(w.rule)}">${escapeHtml(ruleName(w.rule))}</span>
        <span class="warn-speed" title="${escapeHtml(t('warn.speed'))}"><b>${speed}</b> km/h</span>
      </div>
      <div class="sighting"><span class="tag">${escapeHtml(t('warn.first'))}</span><span class="kkmc">${escapeHtml(w.first.kkmc)}</span>${time(w.first.gcsj)}</div>
      <div class="sighting"><span class="tag tag-2">${escapeHtml(t('warn.second'))}</span><span class="kkmc">${escapeHtml(w.second.kkmc)}</span>${time(w.second.gcsj)}</div>
      <div class="warn-bottom">
        <span>${escapeHtml(t('warn.distance'))} <b class="distance">${w.distance_km === null ? '—' : fmtNum(w.distance_km, 1)}</b> km</span>
        <span>${escapeHtml(t('warn.interval'))} <b>${escapeHtml(fmtInterval(w.interval_s, intervalUnits()))}</b></span>
        <span class="warn-go">${escapeHtml(t('warn.trail'))}</span>
      </div>
    </a>`;
  return li;
}

function renderWarnings(): void {
  const list = $('warn-list');
  list.replaceChildren(...state.warnings.map((w) => warningItem(w)));
  $('warn-empty').hidden = state.warnings.length > 0;
}

/** Adds warnings not yet listed; `live` ones just arrived and get highlighted. */
function addWarnings(incoming: Warning[], live: boolean): void {
  const added = incoming.filter((w) => !state.warningIds.has(w.id));
  if (added.length === 0) return;
  if (live) {
    // newest at the top, in order of arrival
    state.warnings.unshift(...[...added].reverse());
    const list = $('warn-list');
    for (const w of added) list.prepend(warningItem(w, true));
    while (list.children.length > MAX_WARNINGS) list.lastElementChild?.remove();
  } else {
    state.warnings.push(...added);
    state.warnings.sort((a, b) => (b.second.gcsj + b.id).localeCompare(a.second.gcsj + a.id));
  }
  state.warnings.length = Math.min(state.warnings.length, MAX_WARNINGS);
  state.warningIds = new Set(state.warnings.map((w) => w.id));
  if (!live) renderWarnings();
  $('warn-empty').hidden = state.warnings.length > 0;
}

async function loadRecentWarnings(): Promise<void> {
  try {
    addWarnings(await api.realtimeWarnings(20), false);
  } catch (error) {
    console.warn('warnings:', error);
  }
}

// ---------------------------------------------------------------- live stream

function setConnection(stateName: 'live' | 'lost' | 'connecting'): void {
  const el = $('conn');
  el.dataset.state = stateName;
  const text = $('conn-text');
  text.dataset.i18n = `conn.${stateName}`;
  text.textContent = t(`conn.${stateName}`);
}

let ticks = 0;

function onTick(tick: Tick): void {
  // how many ticks this page has had: the e2e test checks the stream is flowing
  $('conn').dataset.ticks = String(++ticks);
  setCounter($('counter-total'), tick.total_records);
  setCounter($('counter-warnings'), tick.warnings_total);
  // today / last minute / as_of come with the summary, every tick
  void refreshSummary();
  // nobody looks at a hidden tab's charts: they catch up when it is shown again
  if (!document.hidden && Date.now() - chartsLoadedAt >= CHART_REFRESH_MS) void refreshCharts();
}

function connect(): void {
  const source = new EventSource('/api/stream');
  let opened = false;
  setConnection('connecting');
  source.addEventListener('open', () => {
    setConnection('live');
    // after a reconnect, catch up on warnings sent while we were away
    if (opened) void loadRecentWarnings();
    opened = true;
  });
  source.addEventListener('tick', (event) => {
    try {
      onTick(JSON.parse((event as MessageEvent<string>).data) as Tick);
    } catch (error) {
      console.warn('tick:', error);
    }
  });
  source.addEventListener('warning', (event) => {
    try {
      addWarnings([JSON.parse((event as MessageEvent<string>).data) as Warning], true);
    } catch (error) {
      console.warn('warning:', error);
    }
  });
  source.addEventListener('error', () => {
    if (source.readyState === EventSource.CLOSED) {
      // The browser gives up for good when an answer is not an event stream
      // (a proxy's 502, say); EventSource retries everything else itself.
      setConnection('lost');
      window.setTimeout(connect, 5000);
    } else {
      setConnection('lost');
    }
  });
}

// ---------------------------------------------------------------- clock

function startClock(): void {
  const el = $('clock');
  const tickClock = () => {
    const now = chinaNow();
    el.innerHTML = `<span class="clock-date">${now.slice(0, 10)}</span><span class="clock-time">${now.slice(11)}</span>`;
    window.setTimeout(tickClock, 1000 - (Date.now() % 1000) + 5);
  };
  tickClock();
}

// ---------------------------------------------------------------- start

onLangChange(() => {
  renderCharts();
  renderWarnings();
  if (state.summary) renderSummary(state.summary);
});

let resizeTimer = 0;
window.addEventListener('resize', () => {
  window.clearTimeout(resizeTimer);
  resizeTimer = window.setTimeout(() => renderCharts(), 150);
});

startClock();
renderCharts();
renderWarnings();
void (async () => {
  await refreshSummary();
  await Promise.all([refreshCharts(), loadRecentWarnings()]);
  connect();
})();
