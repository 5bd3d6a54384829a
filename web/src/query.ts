// 过车查询: filters, a paginated result table and the CSV export link.
import './style.css';
import { api, ApiError, exportHref, type Page, type PassRow } from './api';
import { escapeHtml, fmtNum, fromDatetimeLocal, toDatetimeLocal } from './format';
import { initI18n, onLangChange, PLATE_TYPES, plateTypeName, t, tv } from './i18n';

const SIZE = 20;
/** The API refuses pages past the millionth row (page × size ≤ 1,000,000). */
const MAX_ROWS = 1_000_000;

interface Filters {
  kkmc: string;
  hphm: string;
  hpzl: string;
  start: string;
  end: string;
}

const FILTER_KEYS: Array<keyof Filters> = ['kkmc', 'hphm', 'hpzl', 'start', 'end'];

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const form = $<HTMLFormElement>('filters');
const kkmcSelect = $<HTMLSelectElement>('f-kkmc');
const hpzlSelect = $<HTMLSelectElement>('f-hpzl');

let current: { filters: Filters; page: number } = { filters: emptyFilters(), page: 1 };
let result: Page<PassRow> | null = null;
let inFlight: AbortController | null = null;

initI18n();

function emptyFilters(): Filters {
  return { kkmc: '', hphm: '', hpzl: '', start: '', end: '' };
}

function readForm(): Filters {
  return {
    kkmc: kkmcSelect.value,
    hphm: $<HTMLInputElement>('f-hphm').value.trim(),
    hpzl: hpzlSelect.value,
    start: fromDatetimeLocal($<HTMLInputElement>('f-start').value),
    end: fromDatetimeLocal($<HTMLInputElement>('f-end').value),
  };
}

function ensureOption(select: HTMLSelectElement, value: string, label = value): void {
  if (value && ![...select.options].some((o) => o.value === value)) select.add(new Option(label, value));
}

function writeForm(filters: Filters): void {
  ensureOption(kkmcSelect, filters.kkmc);
  kkmcSelect.value = filters.kkmc;
  $<HTMLInputElement>('f-hphm').value = filters.hphm;
  const hpzl = /^\d$/.test(filters.hpzl) ? `0${filters.hpzl}` : filters.hpzl;
  ensureOption(hpzlSelect, hpzl);
  hpzlSelect.value = hpzl;
  $<HTMLInputElement>('f-start').value = toDatetimeLocal(filters.start);
  $<HTMLInputElement>('f-end').value = toDatetimeLocal(filters.end);
}

function fromUrl(): { filters: Filters; page: number } {
  const q = new URLSearchParams(location.search);
  const filters = emptyFilters();
  for (const key of FILTER_KEYS) filters[key] = q.get(key)?.trim() ?? '';
  const page = Math.max(1, Number.parseInt(q.get('page') ?? '1', 10) || 1);
  return { filters, page };
}

function toUrl(filters: Filters, page: number): string {
  const q = new URLSearchParams();
  for (const key of FILTER_KEYS) if (filters[key]) q.set(key, filters[key]);
  if (page > 1) q.set('page', String(page));
  const s = q.toString();
  return `${location.pathname}${s ? `?${s}` : ''}`;
}

// ---------------------------------------------------------------- options

function fillPlateTypes(): void {
  const selected = hpzlSelect.value;
  hpzlSelect.replaceChildren(new Option(t('q.all'), ''));
  for (const [code] of PLATE_TYPES) hpzlSelect.add(new Option(`${code} ${plateTypeName(code)}`, code));
  ensureOption(hpzlSelect, selected);
  hpzlSelect.value = selected;
}

async function loadCheckpoints(): Promise<void> {
  let names: string[];
  try {
    names = (await api.checkpoints()).map((c) => c.kkmc);
  } catch {
    // older servers lack /api/checkpoints: every checkpoint with passes is in the ranking
    try {
      names = (await api.kkmcCount(1000)).map((c) => c.name);
      $('checkpoint-note').hidden = false;
    } catch (error) {
      console.warn('checkpoints:', error);
      return;
    }
  }
  const selected = kkmcSelect.value;
  const all = kkmcSelect.options[0];
  kkmcSelect.replaceChildren(all, ...[...new Set(names)].sort((a, b) => a.localeCompare(b, 'zh-CN')).map((n) => new Option(n, n)));
  ensureOption(kkmcSelect, selected);
  kkmcSelect.value = selected;
}

// ---------------------------------------------------------------- results

function pages(): number {
  if (!result) return 1;
  return Math.max(1, Math.min(Math.ceil(result.total / SIZE), Math.floor(MAX_ROWS / SIZE)));
}

function rowHtml(r: PassRow): string {
  const trail = `trail.html?${new URLSearchParams({ hphm: r.hphm })}`;
  return `<tr>
    <td class="mono">${escapeHtml(r.gcsj)}</td>
    <td><a class="plate-link" href="${escapeHtml(trail)}">${escapeHtml(r.hphm)}</a></td>
    <td>${escapeHtml(r.vehicle_type_name ? tv(r.vehicle_type_name) : plateTypeName(r.hpzl))} <span class="note">${escapeHtml(r.hpzl)}</span></td>
    <td>${escapeHtml(r.kkmc)}</td>
    <td>${escapeHtml(tv(r.fxlx))}</td>
    <td>${escapeHtml(r.xzqhmc)}</td>
    <td>${escapeHtml(r.clppxh)}</td>
    <td>${escapeHtml(tv(r.province))}</td>
    <td class="mono">${escapeHtml(r.gcxh)}</td>
  </tr>`;
}

function renderResult(): void {
  const body = $('rows');
  const info = $('page-info');
  if (!result) {
    body.innerHTML = '';
    info.textContent = '';
    $('total').textContent = '';
    return;
  }
  body.innerHTML = result.rows.length
    ? result.rows.map(rowHtml).join('')
    : `<tr><td class="empty" colspan="9">${escapeHtml(t('q.empty'))}</td></tr>`;
  info.textContent = t('q.pageOf', { page: fmtNum(result.page), pages: fmtNum(pages()) });
  info.dataset.page = String(result.page);
  info.dataset.pages = String(pages());
  $('total').textContent = t('q.total', { total: fmtNum(result.total) });
  $<HTMLButtonElement>('prev').disabled = result.page <= 1;
  $<HTMLButtonElement>('next').disabled = result.page >= pages();
}

function showError(error: unknown): void {
  const el = $('error');
  let text = error instanceof Error ? error.message : String(error);
  if (error instanceof ApiError && error.parameter) {
    text = t('q.errorParam', { parameter: error.parameter }) + text;
    form.querySelector(`[name="${CSS.escape(error.parameter)}"]`)?.classList.add('invalid');
  }
  el.textContent = text;
  el.hidden = false;
}

function clearError(): void {
  $('error').hidden = true;
  for (const el of form.querySelectorAll('.invalid')) el.classList.remove('invalid');
}

async function search(filters: Filters, page: number, history: 'push' | 'replace' | 'none'): Promise<void> {
  inFlight?.abort();
  const controller = new AbortController();
  inFlight = controller;
  current = { filters, page };
  clearError();
  const url = toUrl(filters, page);
  if (history === 'push' && url !== location.pathname + location.search) window.history.pushState(null, '', url);
  if (history === 'replace') window.history.replaceState(null, '', url);
  $<HTMLAnchorElement>('export').href = exportHref({ ...filters });
  $('results').setAttribute('aria-busy', 'true');
  $('page-info').textContent = t('q.loading');
  $<HTMLButtonElement>('prev').disabled = true;
  $<HTMLButtonElement>('next').disabled = true;
  try {
    result = await api.query({ ...filters, page, size: SIZE }, controller.signal);
  } catch (error) {
    if (controller.signal.aborted) return;
    result = null;
    showError(error);
  } finally {
    if (inFlight === controller) {
      inFlight = null;
      $('results').removeAttribute('aria-busy');
    }
  }
  renderResult();
}

// ---------------------------------------------------------------- events

form.addEventListener('submit', (event) => {
  event.preventDefault();
  void search(readForm(), 1, 'push');
});

$('reset').addEventListener('click', () => {
  writeForm(emptyFilters());
  void search(emptyFilters(), 1, 'push');
});

$('prev').addEventListener('click', () => {
  if (current.page > 1) void search(current.filters, current.page - 1, 'push');
});

$('next').addEventListener('click', () => {
  if (current.page < pages()) void search(current.filters, current.page + 1, 'push');
});

window.addEventListener('popstate', () => {
  const { filters, page } = fromUrl();
  writeForm(filters);
  void search(filters, page, 'none');
});

onLangChange(() => {
  fillPlateTypes();
  renderResult();
});

fillPlateTypes();
const initial = fromUrl();
writeForm(initial.filters);
void search(initial.filters, initial.page, 'none');
void loadCheckpoints();
