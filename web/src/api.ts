// Typed helpers for the gantry HTTP API (docs/API.md). All paths are same-origin:
// the Rust binary serves web/dist at the site root, the Vite dev server proxies /api.

export interface NameValue {
  name: string;
  value: number;
}

export interface HourValue {
  hour: number;
  value: number;
}

export interface Summary {
  total_records: number;
  records_today: number;
  checkpoints: number;
  warnings_total: number;
  last_minute: number;
  /** `YYYY-MM-DD HH:MM:SS`, the newest stored pass time. */
  as_of: string;
}

export interface WarningSighting {
  gcxh: string;
  kkmc: string;
  gcsj: string;
}

export interface Warning {
  id: string;
  hphm: string;
  hpzl: string;
  first: WarningSighting;
  second: WarningSighting;
  distance_km: number | null;
  interval_s: number;
  speed_kmh: number | null;
  rule: string;
  detected_at: string;
}

export interface PassRow {
  gcxh: string;
  xzqhmc: string;
  kkmc: string;
  fxlx: string;
  gcsj: string;
  hpzl: string;
  hphm: string;
  clppxh: string;
  province: string;
  vehicle_type_name: string;
}

export interface Page<T> {
  total: number;
  page: number;
  size: number;
  rows: T[];
}

export interface Checkpoint {
  kkmc: string;
  lon: number | null;
  lat: number | null;
}

export interface TrailPoint {
  gcxh: string;
  kkmc: string;
  gcsj: string;
  hpzl: string;
  fxlx: string;
  lon: number | null;
  lat: number | null;
}

export interface TrailLeg {
  from: number;
  to: number;
  from_kkmc: string;
  to_kkmc: string;
  distance_km: number | null;
  interval_s: number;
  speed_kmh: number | null;
  impossible: boolean;
  rule: string | null;
}

export interface Trail {
  hphm: string;
  total: number;
  truncated: boolean;
  speed_limit_kmh: number;
  sightings: TrailPoint[];
  legs: TrailLeg[];
}

export interface Tick {
  time: string;
  total_records: number;
  warnings_total: number;
  new_records: number;
  new_warnings: number;
}

/** A non-2xx answer; `parameter` names the offending query parameter on a 400. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly parameter: string | null,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export type Params = Record<string, string | number | null | undefined>;

/** A query string without the empty parameters (the API treats `x=` as absent anyway). */
export function queryString(params: Params): string {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === null || value === undefined) continue;
    const text = String(value).trim();
    if (text !== '') q.set(key, text);
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** The ApiError of a non-2xx answer, from its JSON `{"error", "parameter"}` when it has one. */
async function errorOf(response: Response): Promise<ApiError> {
  let message = `${response.status} ${response.statusText}`;
  let parameter: string | null = null;
  try {
    const body = (await response.json()) as { error?: string; parameter?: string | null };
    if (body.error) message = body.error;
    parameter = body.parameter ?? null;
  } catch {
    // not JSON (a proxy error page, say): keep the status line
  }
  return new ApiError(message, response.status, parameter);
}

export async function getJson<T>(path: string, params: Params = {}, signal?: AbortSignal): Promise<T> {
  const response = await fetch(path + queryString(params), {
    headers: { Accept: 'application/json' },
    signal,
  });
  if (!response.ok) throw await errorOf(response);
  return (await response.json()) as T;
}

export async function postJson<T>(path: string, body: unknown, signal?: AbortSignal): Promise<T> {
  const response = await fetch(path, {
    method: 'POST',
    headers: { Accept: 'application/json', 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
    signal,
  });
  if (!response.ok) throw await errorOf(response);
  return (await response.json()) as T;
}

// ---------------------------------------------------------------- IoT

/** One sensor series (`dev-01/temperature`, `climate,device=dev-03/humidity`). */
export interface IotSeries {
  id: string;
  tags: Record<string, string>;
  /** Points stored. */
  points: number;
  /** Epoch ms (UTC) of the newest point. */
  last_ts: number | null;
  last_value: number | null;
}

/** A series' points in a range: `[epoch ms, value]`, in time order. */
export interface IotRange {
  id: string;
  start: number;
  end: number;
  step_ms: number | null;
  agg: string;
  points: Array<[number, number]>;
}

export interface IotStat {
  id: string;
  count: number;
  avg: number;
  min: number;
  max: number;
}

/** One point of the stream's `points` event. */
export interface IotPoint {
  series: string;
  /** Epoch ms, UTC. */
  ts: number;
  value: number;
}

/** One window's aggregate (`/api/iot/windows`, the stream's `window` event). */
export interface IotWindow {
  /** Epoch ms, inclusive. */
  start: number;
  /** Epoch ms, exclusive. */
  end: number;
  count: number;
  sum: number;
  avg: number;
  min: number;
  max: number;
  last: number;
  last_ts: number;
}

export interface IotSeriesWindows {
  id: string;
  watermark: number | null;
  /** The newest closed windows, oldest first. */
  closed: IotWindow[];
  /** The windows still open, oldest first (the last is the current one). */
  open: IotWindow[];
}

export interface IotWindows {
  kind: 'tumbling' | 'sliding';
  size_ms: number;
  slide_ms: number;
  lateness_ms: number;
  live: boolean;
  series: IotSeriesWindows[];
}

/** The stream's `window` event: a live window that closed. */
export interface IotWindowEvent extends IotWindow {
  series: string;
  kind: 'tumbling' | 'sliding';
  size_ms: number;
  slide_ms: number;
}

/** `/api/iot/forecast/{id}`: the next step means and the model's backtest. */
export interface IotForecast {
  id: string;
  step_ms: number;
  model: string;
  history_steps: number;
  history_start: number;
  last_step: number;
  /** `[step start, predicted mean]`. */
  points: Array<[number, number]>;
  backtest: { steps: number; model_mae: number; baseline_mae: number; baseline: string };
}

export interface PublishResult {
  status: string;
  topic: string;
}

export interface LatestValue {
  status: 'ok' | 'not_found';
  id: string;
  value: number | null;
}

/** `/api/iot/series/{id}`: each segment of the id encoded, its slashes kept (the route is `{*id}`). */
export function seriesPath(id: string): string {
  return '/api/iot/series/' + id.split('/').map(encodeURIComponent).join('/');
}

export const api = {
  summary: () => getJson<Summary>('/api/stats/summary'),
  kkmcCount: (limit: number) => getJson<NameValue[]>('/api/stats/kkmc_count', { limit }),
  flow24h: (date: string) => getJson<HourValue[]>('/api/stats/flow_24h', { date }),
  mapData: () => getJson<NameValue[]>('/api/stats/map_data'),
  vehicleType: () => getJson<NameValue[]>('/api/stats/vehicle_type'),
  realtimeWarnings: (limit: number) => getJson<Warning[]>('/api/warnings/realtime', { limit }),
  checkpoints: () => getJson<Checkpoint[]>('/api/checkpoints'),
  query: (params: Params, signal?: AbortSignal) => getJson<Page<PassRow>>('/api/query', params, signal),
  trail: (params: Params, signal?: AbortSignal) => getJson<Trail>('/api/trail', params, signal),
  iotSeries: () => getJson<IotSeries[]>('/api/iot/series'),
  iotRange: (id: string, params: Params, signal?: AbortSignal) => getJson<IotRange>(seriesPath(id), params, signal),
  iotStats: (window: string) => getJson<IotStat[]>('/api/iot/stats', { window }),
  iotWindows: (params: Params) => getJson<IotWindows>('/api/iot/windows', params),
  iotForecast: (id: string, params: Params, signal?: AbortSignal) =>
    getJson<IotForecast>('/api/iot/forecast/' + id.split('/').map(encodeURIComponent).join('/'), params, signal),
  /** Publishes on the server's MQTT broker; the payload goes out as it is. */
  publish: (topic: string, payload: string) => postJson<PublishResult>('/publish/', { topic, payload }),
  latest: (id: string) => postJson<LatestValue>('/get_data/', { id }),
};

/** The export link for a set of filters: every page, as CSV. */
export function exportHref(filters: Params): string {
  return '/api/export' + queryString(filters);
}
