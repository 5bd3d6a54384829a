#!/usr/bin/env node
// Browser test of the gantry dashboard against a live backend (gantry demo).
//
//   node e2e/dashboard.mjs [base-url]          (or GANTRY_URL; default http://127.0.0.1:5173/)
//   SCREENSHOT_DIR=… overrides ../target/screenshots (relative to web/)
//
// Exits non-zero with a message on the first failed check, on any uncaught page error
// and on any console error.
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const webDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const base = new URL(process.argv[2] ?? process.env.GANTRY_URL ?? 'http://127.0.0.1:5173/');
const shots = resolve(webDir, process.env.SCREENSHOT_DIR ?? '../target/screenshots');
const WARNING_TIMEOUT_MS = 120_000;
const STEP_TIMEOUT_MS = 30_000;

mkdirSync(shots, { recursive: true });

class Failure extends Error {}
function check(condition, message) {
  if (!condition) throw new Failure(message);
}
const step = (text) => console.log(`• ${text}`);
const url = (path) => new URL(path, base).href;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});

const problems = [];
let exitCode = 0;

try {
  const context = await browser.newContext({
    viewport: { width: 1920, height: 1080 },
    locale: 'zh-CN',
    // Still charts, so screenshots never catch a bar or label mid-move.
    reducedMotion: 'reduce',
  });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  const page = await context.newPage();
  page.on('pageerror', (error) => problems.push(`uncaught page error on ${page.url()}: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console error on ${page.url()}: ${message.text()}`);
  });
  const noProblems = (where) => check(problems.length === 0, `${where}:\n  ${problems.join('\n  ')}`);

  // ------------------------------------------------------------ big screen
  step(`big screen ${url('./')}`);
  await page.goto(url('./'));
  check((await page.title()).includes('高速卡口实时监测大屏'), `title is "${await page.title()}"`);
  check((await page.textContent('.head-title h1')) === '高速卡口实时监测大屏', 'the title bar is not 高速卡口实时监测大屏');

  await page
    .waitForFunction(() => ['counter-total', 'counter-today'].every((id) => Number(document.getElementById(id)?.dataset.value) > 0))
    .catch(() => {
      throw new Failure('the 总过车 / 今日 counters did not show a number > 0');
    });
  for (const id of ['counter-total', 'counter-today', 'counter-minute', 'counter-warnings']) {
    const text = (await page.textContent(`#${id}`)).trim();
    check(/^\d{1,3}(,\d{3})*$/.test(text), `counter #${id} shows "${text}", not a number with thousands separators`);
  }
  // the last minute fills once the first records are a minute old
  await page
    .waitForFunction(() => Number(document.getElementById('counter-minute')?.dataset.value) > 0, null, { timeout: 90_000 })
    .catch(() => {
      throw new Failure('the 近一分钟 counter did not show a number > 0');
    });

  for (const chart of ['ranking', 'flow', 'map', 'pie']) {
    await page
      .waitForFunction((id) => Number(document.getElementById(id)?.dataset.points) > 0, `chart-${chart}`)
      .catch(() => {
        throw new Failure(`chart #chart-${chart} rendered no data points`);
      });
    const hasCanvas = await page.$eval(`#chart-${chart}`, (el) => {
      const canvas = el.querySelector('canvas');
      return !!canvas && canvas.width > 100 && canvas.height > 100;
    });
    check(hasCanvas, `chart #chart-${chart} has no sized canvas`);
  }
  const points = await page.$$eval('.chart', (els) => els.map((el) => `${el.id}=${el.dataset.points}`).join(' '));
  step(`charts: ${points}`);

  step('the event stream is open and ticking');
  await page
    .waitForFunction(() => {
      const conn = document.getElementById('conn');
      return conn?.dataset.state === 'live' && Number(conn.dataset.ticks) >= 2;
    })
    .catch(() => {
      throw new Failure('no ticks from /api/stream reached the page');
    });

  // The list starts with /api/warnings/realtime; on a fresh demo it is empty and the
  // first warnings come over the stream (marked .fresh).
  const initialWarnings = await page.$$eval('#warn-list .warn-item', (items) => items.length);
  step(`${initialWarnings} warning(s) listed at start; waiting up to ${WARNING_TIMEOUT_MS / 1000} s for one`);
  await page.waitForSelector('#warn-list .warn-item', { timeout: WARNING_TIMEOUT_MS }).catch(() => {
    throw new Failure(`no warning appeared in the list within ${WARNING_TIMEOUT_MS / 1000} s`);
  });
  const firstItem = await page.$('#warn-list .warn-item');
  const arrivedLive = await firstItem.evaluate((li) => li.classList.contains('fresh'));
  if (initialWarnings === 0) check(arrivedLive, 'a warning appeared without coming over the stream');
  step(arrivedLive ? 'the newest warning arrived live over /api/stream' : 'the newest warning came from /api/warnings/realtime');
  const item = await firstItem.evaluate((li) => ({
    id: li.dataset.id ?? '',
    plate: li.querySelector('.plate')?.textContent ?? '',
    hphm: li.dataset.hphm ?? '',
    sightings: [...li.querySelectorAll('.sighting')].map((s) => ({
      kkmc: s.querySelector('.kkmc')?.textContent ?? '',
      time: s.querySelector('time')?.textContent ?? '',
    })),
    distance: li.querySelector('.distance')?.textContent ?? '',
    speed: li.querySelector('.warn-speed b')?.textContent ?? '',
    href: li.querySelector('a')?.getAttribute('href') ?? '',
  }));
  step(`warning: ${JSON.stringify(item)}`);
  check(item.plate && item.plate === item.hphm, 'the warning shows no plate');
  check(item.sightings.length === 2, `the warning shows ${item.sightings.length} sightings, not 2`);
  for (const s of item.sightings) {
    check(s.kkmc.length > 0 && /^\d\d:\d\d:\d\d$/.test(s.time), `a sighting lacks its checkpoint or time: ${JSON.stringify(s)}`);
  }
  check(/^[\d,.]+$|^—$/.test(item.distance), `distance "${item.distance}"`);
  check(/^[\d,]+$|^∞$/.test(item.speed), `speed "${item.speed}"`);
  const link = new URL(item.href, page.url());
  check(link.pathname.endsWith('/trail.html') && link.searchParams.get('hphm') === item.plate, `trail link ${item.href}`);
  for (const key of ['start', 'end']) {
    check(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/.test(link.searchParams.get(key) ?? ''), `trail link ${key} in ${item.href}`);
  }
  await page.waitForFunction(() => Number(document.getElementById('counter-warnings')?.dataset.value) > 0);

  // all labels switch to English and back
  await page.click('[data-lang-toggle]');
  const english = await page.textContent('.head-title h1');
  check(english === 'Highway Checkpoint Live Monitor', `after the language toggle the title is "${english}"`);
  check((await page.textContent('.counter-label')) === 'Total passes', 'the counters did not switch to English');
  check((await page.evaluate(() => localStorage.getItem('gantry.lang'))) === 'en', 'the language is not stored');
  await page.click('[data-lang-toggle]');
  check((await page.textContent('.head-title h1')) === '高速卡口实时监测大屏', 'the toggle did not switch back to Chinese');

  await page.waitForTimeout(1500); // let the counters and the redrawn charts settle
  await page.screenshot({ path: resolve(shots, 'bigscreen.png') });
  step(`screenshot ${resolve(shots, 'bigscreen.png')}`);
  const overlap = await page.evaluate(() => {
    const boxes = [...document.querySelectorAll('.panel, .counter')].map((el) => el.getBoundingClientRect());
    const bad = [];
    boxes.forEach((a, i) =>
      boxes.slice(i + 1).forEach((b) => {
        if (a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1) bad.push(i);
      }),
    );
    const outside = boxes.filter((r) => r.right > innerWidth + 1 || r.bottom > innerHeight + 1).length;
    return { bad: bad.length, outside };
  });
  check(overlap.bad === 0 && overlap.outside === 0, `big screen panels overlap or overflow the viewport: ${JSON.stringify(overlap)}`);
  noProblems('big screen');

  // ------------------------------------------------------------ trail (from the warning)
  step(`trail of ${item.plate} via the warning's link`);
  // (the list was re-rendered by the language switch: find the item again)
  await Promise.all([page.waitForURL(/trail\.html/), page.click(`#warn-list .warn-item[data-id="${item.id}"] a`)]);
  check(new URL(page.url()).searchParams.get('hphm') === item.plate, `the warning link opened ${page.url()}`);
  await page.waitForFunction(() => Number(document.getElementById('chart-trail')?.dataset.points) > 0).catch(() => {
    throw new Failure('the trail map shows no points');
  });
  await page.waitForSelector('#leg-rows tr.impossible').catch(() => {
    throw new Failure('the trail shows no highlighted impossible leg');
  });
  const trail = await page.evaluate(() => {
    const row = document.querySelector('#leg-rows tr.impossible');
    return {
      points: Number(document.getElementById('chart-trail')?.dataset.points),
      legsDrawn: Number(document.getElementById('chart-trail')?.dataset.legs),
      rows: document.querySelectorAll('#leg-rows tr').length,
      impossible: document.querySelectorAll('#leg-rows tr.impossible').length,
      background: row ? getComputedStyle(row).backgroundColor : '',
      plate: document.getElementById('s-hphm')?.textContent,
      verdict: row?.querySelector('.verdict')?.textContent,
    };
  });
  step(`trail: ${JSON.stringify(trail)}`);
  check(trail.plate === item.plate, `the trail page shows plate ${trail.plate}`);
  check(trail.legsDrawn > 0, 'the trail map draws no legs');
  check(/rgba?\(2\d\d, /.test(trail.background), `the impossible leg row is not highlighted (background ${trail.background})`);
  check(trail.verdict && trail.verdict !== '正常', `the impossible leg's verdict is "${trail.verdict}"`);
  await page.screenshot({ path: resolve(shots, 'trail.png') });
  step(`screenshot ${resolve(shots, 'trail.png')}`);
  noProblems('trail page');

  // ------------------------------------------------------------ query
  const plate = item.plate;
  step(`query ${url('query.html')}: plate ${plate}`);
  await page.goto(url('query.html'));
  await page.waitForSelector('#rows tr');
  await page.fill('#f-hphm', plate);
  await page.click('#search');
  await page.waitForFunction(
    (p) => {
      const cells = [...document.querySelectorAll('#rows .plate-link')];
      return cells.length > 0 && cells.every((a) => a.textContent === p);
    },
    plate,
  ).catch(async () => {
    throw new Failure(`searching ${plate} gave no rows of that plate: ${await page.textContent('#rows')}`);
  });
  const plateRows = await page.$$eval('#rows tr', (rows) => rows.length);
  const exportHref = await page.getAttribute('#export', 'href');
  const exportUrl = new URL(exportHref, page.url());
  check(exportUrl.pathname === '/api/export', `export link ${exportHref}`);
  check(exportUrl.searchParams.get('hphm') === plate, `the export link ${exportHref} lacks hphm=${plate}`);
  check(!exportUrl.searchParams.has('page') && !exportUrl.searchParams.has('size'), `the export link ${exportHref} carries page/size`);
  check(new URL(page.url()).searchParams.get('hphm') === plate, 'the search is not in the page URL');
  step(`${plateRows} rows of ${plate}; export ${exportHref}`);
  const csv = await page.request.get(exportUrl.href);
  if (csv.status() === 404) {
    console.warn(`  (warning) ${exportUrl.pathname} answers 404: this server predates the export route`);
  } else {
    const body = await csv.text();
    check(csv.ok() && /text\/csv/.test(csv.headers()['content-type'] ?? ''), `export answered ${csv.status()} ${csv.headers()['content-type']}`);
    check(body.includes(plate), `the CSV export does not contain ${plate}`);
  }

  step('query: checkpoint filter');
  await page.waitForFunction(() => document.querySelectorAll('#f-kkmc option').length > 1).catch(() => {
    throw new Failure('the checkpoint dropdown has no checkpoints');
  });
  // The busiest checkpoint: one the demo has surely passed by now.
  const busiest = await (await page.request.get(url('api/stats/kkmc_count?limit=1'))).json();
  check(busiest.length === 1, 'no checkpoint has passes yet');
  const kkmc = busiest[0].name;
  await page.fill('#f-hphm', '');
  await page.selectOption('#f-kkmc', kkmc);
  await page.click('#search');
  await page
    .waitForFunction(
      (k) => {
        const cells = [...document.querySelectorAll('#rows tr td:nth-child(4)')];
        return cells.length > 0 && cells.every((td) => td.textContent === k);
      },
      kkmc,
    )
    .catch(() => {
      throw new Failure(`filtering on checkpoint ${kkmc} gave rows of other checkpoints`);
    });
  check(new URL(await page.getAttribute('#export', 'href'), page.url()).searchParams.get('kkmc') === kkmc, 'the export link lacks kkmc');

  step('query: the checkpoint list falls back to /api/stats/kkmc_count');
  await page.route('**/api/checkpoints', (route) => route.fulfill({ status: 404, contentType: 'application/json', body: '{"error":"no such route","parameter":null}' }));
  await page.goto(url('query.html'));
  await page.waitForFunction(() => document.querySelectorAll('#f-kkmc option').length > 1).catch(() => {
    throw new Failure('without /api/checkpoints the dropdown stays empty');
  });
  check(await page.isVisible('#checkpoint-note'), 'the fallback note is not shown');
  await page.unroute('**/api/checkpoints');
  for (let i = problems.length - 1; i >= 0; i--) if (/status of 404/.test(problems[i])) problems.splice(i, 1);

  step('query: ?hphm= prefills and searches');
  await page.goto(url(`query.html?hphm=${encodeURIComponent(plate)}`));
  check((await page.inputValue('#f-hphm')) === plate, 'the URL did not prefill the plate');
  await page.waitForFunction((p) => document.querySelector('#rows .plate-link')?.textContent === p, plate);

  noProblems('query page');
  step('query: a bad parameter shows the API error');
  await page.goto(url('query.html?start=yesterday-ish'));
  await page.waitForSelector('#error:not([hidden])');
  const errorText = await page.textContent('#error');
  check(/start/.test(errorText), `the error for a bad start reads "${errorText}"`);
  // the browser logs the refused request itself; nothing else may go wrong
  for (let i = problems.length - 1; i >= 0; i--) if (/status of 400/.test(problems[i])) problems.splice(i, 1);
  noProblems('query page, bad parameter');

  step('query: no filters, next page');
  await page.goto(url('query.html'));
  await page.waitForFunction(() => document.getElementById('page-info')?.dataset.page === '1' && !!document.querySelector('#rows .plate-link'));
  const first = await page.evaluate(() => ({
    gcxh: document.querySelector('#rows tr td:last-child')?.textContent,
    pages: Number(document.getElementById('page-info')?.dataset.pages),
    total: document.getElementById('total')?.textContent,
  }));
  check(first.pages > 1, `only ${first.pages} page(s) without filters`);
  check((await page.$$('#rows tr')).length === 20, 'page 1 does not have 20 rows');
  await page.click('#next');
  await page.waitForFunction(() => document.getElementById('page-info')?.dataset.page === '2').catch(() => {
    throw new Failure('"next page" did not move to page 2');
  });
  const second = await page.evaluate(() => document.querySelector('#rows tr td:last-child')?.textContent);
  check(second && second !== first.gcxh, `page 2 starts with the same row as page 1 (${second})`);
  check(new URL(page.url()).searchParams.get('page') === '2', 'the page number is not in the URL');
  check(!(await page.isDisabled('#prev')), '"previous page" is disabled on page 2');
  step(`page 1 → 2 (${first.total}), first row ${first.gcxh} → ${second}`);
  await page.screenshot({ path: resolve(shots, 'query.png'), fullPage: true });
  step(`screenshot ${resolve(shots, 'query.png')}`);
  noProblems('query page');

  // ------------------------------------------------------------ IoT sensors
  // The demo publishes simulated sensors (dev-01 … dev-06) to its embedded MQTT broker;
  // the page charts them from /api/iot/series, each series' history and the stream's
  // `points` events, with their forecasts dashed, and tables their window aggregates.
  step(`IoT ${url('iot.html')}`);
  await page.goto(url('iot.html'));
  check((await page.title()).includes('物联网监测'), `IoT page title is "${await page.title()}"`);
  check((await page.getAttribute('.page-head nav a.active', 'href')) === 'iot.html', 'the IoT nav link is not the active one');
  const receivedAtStart = Number(await page.getAttribute('#conn', 'data-received'));
  await page
    .waitForFunction(() => document.querySelectorAll('#iot-table tbody tr[data-series]').length >= 3)
    .catch(async () => {
      throw new Failure(`the latest-values table lists fewer than 3 series: ${await page.textContent('#iot-table tbody')}`);
    });
  await page
    .waitForFunction(() => [...document.querySelectorAll('#iot-charts .chart')].some((el) => Number(el.dataset.points) > 0))
    .catch(() => {
      throw new Failure('no IoT chart draws any point');
    });
  await page
    .waitForFunction(
      (before) => {
        const conn = document.getElementById('conn');
        return conn?.dataset.state === 'live' && Number(conn.dataset.received) > before;
      },
      receivedAtStart,
    )
    .catch(() => {
      throw new Failure('no `points` event from /api/stream reached the IoT page');
    });
  await page.waitForSelector('#stats-rows tr[data-series]').catch(() => {
    throw new Failure('the IoT stats table shows no series');
  });
  // streaming windows: a row per series from /api/iot/windows (then the stream's `window` events)
  await page
    .waitForFunction(() => document.querySelectorAll('#window-rows tr[data-series]').length >= 3)
    .catch(async () => {
      throw new Failure(`the windows table lists fewer than 3 series: ${await page.textContent('#window-rows')}`);
    });
  const windowRows = await page.evaluate(() =>
    [...document.querySelectorAll('#window-rows tr[data-series]')].map((tr) => ({
      id: tr.dataset.series,
      counts: [...tr.querySelectorAll('td.iot-window-cell')].map((td) => Number(td.dataset.count ?? 0)),
      text: tr.textContent?.replace(/\s+/g, ' ').trim(),
    })),
  );
  check(
    windowRows.every((r) => r.counts.length === 2 && r.counts.every((n) => n > 0)),
    `a windows row lacks a 1-min or 5-min window: ${JSON.stringify(windowRows.slice(0, 4))}`,
  );
  step(`IoT: ${windowRows.length} rows of windows, e.g. ${windowRows[0].text}`);
  // forecast overlay: a dashed line after a series once it has 2.5 min of history
  await page
    .waitForFunction(() => [...document.querySelectorAll('#iot-charts .chart')].some((el) => Number(el.dataset.forecasts) > 0), null, {
      timeout: 240_000,
    })
    .catch(() => {
      throw new Failure('no IoT chart draws a forecast overlay');
    });
  const forecast = await page.evaluate(() => {
    const el = [...document.querySelectorAll('#iot-charts .chart')].find((c) => Number(c.dataset.forecasts) > 0);
    return { field: el?.dataset.field, lines: el?.dataset.forecasts, note: el?.closest('.iot-chart')?.querySelector('.iot-forecast-note')?.textContent ?? '' };
  });
  check(forecast.note.includes('MAE'), `the forecast overlay of ${forecast.field} has no backtest note: ${JSON.stringify(forecast)}`);
  step(`IoT: forecast overlay on ${forecast.field} (${forecast.lines} lines): ${forecast.note}`);
  const iot = await page.evaluate(() => ({
    series: [...document.querySelectorAll('#iot-table tbody tr[data-series]')].map((tr) => tr.dataset.series),
    charts: [...document.querySelectorAll('#iot-charts .chart')].map((el) => `${el.dataset.field}=${el.dataset.points}`),
    received: Number(document.getElementById('conn')?.dataset.received),
  }));
  step(`IoT: ${iot.series.length} series (${iot.series.slice(0, 4).join(' ')} …), charts ${iot.charts.join(' ')}, ${iot.received} live points`);
  for (const chart of await page.$$('#iot-charts .chart')) {
    const sized = await chart.evaluate((el) => {
      const canvas = el.querySelector('canvas');
      return !!canvas && canvas.width > 100 && canvas.height > 100;
    });
    check(sized, 'an IoT chart has no sized canvas');
  }

  const e2eDevice = `e2e-${Date.now()}`;
  const e2eSeries = `${e2eDevice}/temperature`;
  step(`IoT: publish ${e2eDevice} on sensors/e2e`);
  await page.fill('#pub-topic', 'sensors/e2e');
  await page.fill('#pub-payload', JSON.stringify({ device: e2eDevice, temperature: 12.5 }));
  await page.click('#pub-submit');
  await page
    .waitForFunction(() => !['pending', undefined].includes(document.getElementById('publish-result')?.dataset.status))
    .catch(() => {
      throw new Failure('publishing shows no result');
    });
  const published = await page.evaluate(() => {
    const el = document.getElementById('publish-result');
    return { status: el?.dataset.status, text: el?.textContent ?? '' };
  });
  check(
    published.status === 'published' && published.text.includes('已发布') && published.text.includes('sensors/e2e'),
    `publishing answered ${JSON.stringify(published)}`,
  );
  await page
    .waitForFunction(
      (id) => document.querySelector(`#iot-table tbody tr[data-series="${CSS.escape(id)}"] .iot-value`)?.dataset.value === '12.5',
      e2eSeries,
    )
    .catch(() => {
      throw new Failure(`${e2eSeries} = 12.5 did not appear in the latest-values table`);
    });
  const origin = await page.getAttribute(`#iot-table tbody tr[data-series="${e2eSeries}"]`, 'data-origin');
  check(origin === 'stream', `${e2eSeries} reached the table from the ${origin}, not the stream`);
  await page.waitForFunction((id) => {
    const el = [...document.querySelectorAll('#iot-charts .chart')].find((c) => c.dataset.field === id.split('/').pop());
    return !!el && Number(el.dataset.points) > 0;
  }, e2eSeries);

  step(`IoT: read the latest ${e2eSeries}`);
  let latest = null;
  const readUntil = Date.now() + STEP_TIMEOUT_MS;
  while (Date.now() < readUntil) {
    await page.fill('#read-id', e2eSeries);
    await page.click('#read-submit');
    await page.waitForFunction(() => !['pending', undefined].includes(document.getElementById('read-result')?.dataset.status));
    latest = await page.evaluate(() => {
      const el = document.getElementById('read-result');
      return { status: el?.dataset.status, value: el?.dataset.value, text: el?.textContent ?? '' };
    });
    if (latest.status === 'ok') break;
    await page.waitForTimeout(1000);
  }
  check(latest?.status === 'ok' && Number(latest.value) === 12.5 && latest.text.includes('12.5'), `reading ${e2eSeries} gave ${JSON.stringify(latest)}`);

  // labels switch to English and back
  await page.click('[data-lang-toggle]');
  check((await page.textContent('.page-head h1')) === 'IoT sensors', 'the IoT page did not switch to English');
  await page.click('[data-lang-toggle]');
  check((await page.textContent('.page-head h1')) === '物联网监测', 'the IoT page did not switch back to Chinese');

  await page.waitForTimeout(1000); // let the redrawn charts settle
  await page.screenshot({ path: resolve(shots, 'iot.png'), fullPage: true });
  step(`screenshot ${resolve(shots, 'iot.png')}`);
  noProblems('IoT page');

  console.log('PASS: big screen, trail, query and IoT pages');
} catch (error) {
  exitCode = 1;
  console.error(`FAIL: ${error instanceof Failure ? error.message : error?.stack ?? error}`);
  if (problems.length && !(error instanceof Failure && error.message.includes(problems[0]))) {
    console.error(`page problems:\n  ${problems.join('\n  ')}`);
  }
} finally {
  await browser.close();
}
process.exit(exitCode);
