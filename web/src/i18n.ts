// 中文 / English. Chinese is the default; the choice is kept in localStorage.
// Static labels carry `data-i18n="key"` (text), `data-i18n-placeholder` or
// `data-i18n-title`; pages re-render their dynamic parts from `onLangChange`.

export type Lang = 'zh' | 'en';

const STORAGE_KEY = 'gantry.lang';

const zh = {
  'app.name': 'Gantry 卡口平台',
  'nav.bigscreen': '数据大屏',
  'nav.query': '过车查询',
  'nav.trail': '车辆轨迹',
  'nav.iot': '物联网监测',
  'lang.toggle': 'English',
  'title.bigscreen': '高速卡口实时监测大屏',
  'title.query': '过车记录查询',
  'title.trail': '车辆轨迹分析',
  'title.iot': '物联网监测',
  'conn.live': '实时连接',
  'conn.lost': '连接中断，重连中…',
  'conn.connecting': '连接中…',
  'counter.total': '总过车',
  'counter.today': '今日过车',
  'counter.lastMinute': '近一分钟',
  'counter.warnings': '套牌预警',
  'unit.vehicles': '辆',
  'unit.times': '次',
  'unit.per_min': '辆/分',
  'panel.ranking': '卡口过车排行 TOP10',
  'panel.flow': '24小时车流量',
  'panel.map': '车辆来源分布',
  'panel.vehicleType': '车辆类型构成',
  'panel.warnings': '套牌车实时预警',
  'flow.today': '今日',
  'flow.yesterday': '昨日',
  'flow.hourUnit': '时',
  'map.legendTitle': '过车量',
  'map.noData': '无数据',
  'warn.empty': '暂无预警，等待实时数据…',
  'warn.first': '首次',
  'warn.second': '再次',
  'warn.distance': '距离',
  'warn.speed': '推算时速',
  'warn.interval': '间隔',
  'warn.trail': '查看轨迹 ›',
  'warn.new': '新',
  'asOf': '数据截至',
  'rule.speed': '超速',
  'rule.simultaneous': '同时异地',
  'rule.window': '时间窗',
  'q.kkmc': '卡口名称',
  'q.hphm': '号牌号码',
  'q.hphm.placeholder': '如 川A12345 或 川A*',
  'q.hpzl': '号牌种类',
  'q.start': '开始时间',
  'q.end': '结束时间',
  'q.all': '全部',
  'q.search': '查询',
  'q.reset': '重置',
  'q.export': '导出 CSV',
  'q.prev': '上一页',
  'q.next': '下一页',
  'q.pageOf': '第 {page} / {pages} 页',
  'q.total': '共 {total} 条',
  'q.loading': '查询中…',
  'q.empty': '没有符合条件的记录',
  'q.col.gcsj': '过车时间',
  'q.col.hphm': '号牌号码',
  'q.col.hpzl': '号牌种类',
  'q.col.kkmc': '卡口名称',
  'q.col.fxlx': '方向',
  'q.col.xzqhmc': '行政区划',
  'q.col.clppxh': '品牌型号',
  'q.col.province': '号牌归属',
  'q.col.gcxh': '过车序号',
  'q.checkpointsFallback': '卡口列表取自过车排行',
  'q.errorParam': '参数 {parameter}：',
  't.hphm': '号牌号码',
  't.search': '查询轨迹',
  't.start': '开始时间',
  't.end': '结束时间',
  't.prompt': '输入号牌号码查看其过车轨迹',
  't.sightings': '过车记录',
  't.legs': '行程段',
  't.impossible': '异常行程',
  't.speedLimit': '限速阈值',
  't.truncated': '记录过多，仅显示最近 10,000 条',
  't.map': '轨迹地图',
  't.legTable': '行程段明细',
  't.onlyImpossible': '只看异常',
  't.col.no': '#',
  't.col.from': '起点',
  't.col.to': '终点',
  't.col.distance': '距离 (km)',
  't.col.interval': '间隔',
  't.col.speed': '时速 (km/h)',
  't.col.rule': '判定',
  't.normal': '正常',
  't.noCoords': '无坐标',
  't.noSightings': '该号牌在所选时间内没有过车记录',
  't.point': '第 {n} 次过车',
  'iv.d': '天',
  'iv.h': '时',
  'iv.min': '分',
  'iv.s': '秒',
  'iot.counter.series': '传感器序列',
  'iot.counter.devices': '设备',
  'iot.counter.received': '实时接收数据点',
  'iot.counter.last': '最新数据时间',
  'iot.panel.charts': '实时曲线 · 近 15 分钟',
  'iot.panel.latest': '最新数值',
  'iot.panel.stats': '近 15 分钟统计',
  'iot.panel.publish': 'MQTT 发布',
  'iot.panel.read': '读取最新值',
  'iot.col.series': '序列',
  'iot.col.tags': '标签',
  'iot.col.value': '最新值',
  'iot.col.time': '最新时间',
  'iot.col.points': '点数',
  'iot.col.count': '点数',
  'iot.col.avg': '平均',
  'iot.col.min': '最小',
  'iot.col.max': '最大',
  'iot.topic': '主题',
  'iot.payload': '消息内容',
  'iot.publish': '发布',
  'iot.publishing': '发布中…',
  'iot.published': '已发布到 {topic}',
  'iot.id': '序列 ID',
  'iot.read': '读取',
  'iot.reading': '读取中…',
  'iot.notFound': '{id}：暂无数据',
  'iot.empty': '暂无传感器数据，等待实时数据…',
  'iot.noSeries': '暂无传感器序列',
  'iot.statsEmpty': '近 15 分钟没有数据',
  'iot.more': '另有 {n} 个指标未绘图：{fields}（见下方表格）',
  'iot.series': '{n} 条曲线',
  'iot.panel.windows': '流式窗口聚合（事件时间）',
  'iot.col.tumbling': '1 分钟滚动窗口',
  'iot.col.sliding': '5 分钟滑动窗口（每分钟）',
  'iot.col.window': '窗口',
  'iot.windowsEmpty': '暂无窗口数据',
  'iot.windowOpen': '进行中',
  'iot.windowsNote': '平均 / 最小 / 最大；窗口在超过其结束时间 {lateness} 秒后关闭，关闭时实时更新',
  'iot.forecast': '{name} 预测',
  'iot.forecastNote': '虚线：岭回归自回归模型预测（{step} 步长），回测 MAE {model}，基线（上一值）{baseline}',
  'iot.field.temperature': '温度',
  'iot.field.humidity': '湿度',
  'iot.field.pressure': '气压',
  'iot.field.co2': '二氧化碳',
  'iot.field.pm25': 'PM2.5',
  'iot.field.voltage': '电压',
  'iot.field.battery': '电量',
  'iot.field.light': '光照',
  'iot.field.value': '数值',
};

type Key = keyof typeof zh;

const en: Record<Key, string> = {
  'app.name': 'Gantry Checkpoints',
  'nav.bigscreen': 'Big screen',
  'nav.query': 'Pass query',
  'nav.trail': 'Plate trail',
  'nav.iot': 'IoT sensors',
  'lang.toggle': '中文',
  'title.bigscreen': 'Highway Checkpoint Live Monitor',
  'title.query': 'Pass Record Query',
  'title.trail': 'Plate Trail Analysis',
  'title.iot': 'IoT sensors',
  'conn.live': 'Live',
  'conn.lost': 'Disconnected, retrying…',
  'conn.connecting': 'Connecting…',
  'counter.total': 'Total passes',
  'counter.today': 'Today',
  'counter.lastMinute': 'Last minute',
  'counter.warnings': 'Clone warnings',
  'unit.vehicles': '',
  'unit.times': '',
  'unit.per_min': '/min',
  'panel.ranking': 'Top 10 checkpoints',
  'panel.flow': '24-hour traffic flow',
  'panel.map': 'Vehicle origin by province',
  'panel.vehicleType': 'Vehicle types',
  'panel.warnings': 'Live cloned-plate warnings',
  'flow.today': 'Today',
  'flow.yesterday': 'Yesterday',
  'flow.hourUnit': 'h',
  'map.legendTitle': 'Passes',
  'map.noData': 'no data',
  'warn.empty': 'No warnings yet, waiting for live data…',
  'warn.first': 'First',
  'warn.second': 'Then',
  'warn.distance': 'Distance',
  'warn.speed': 'Implied speed',
  'warn.interval': 'Interval',
  'warn.trail': 'Trail ›',
  'warn.new': 'NEW',
  asOf: 'Data as of',
  'rule.speed': 'Speed',
  'rule.simultaneous': 'Two places at once',
  'rule.window': 'Time window',
  'q.kkmc': 'Checkpoint',
  'q.hphm': 'Plate',
  'q.hphm.placeholder': 'e.g. 川A12345 or 川A*',
  'q.hpzl': 'Plate type',
  'q.start': 'From',
  'q.end': 'To',
  'q.all': 'All',
  'q.search': 'Search',
  'q.reset': 'Reset',
  'q.export': 'Export CSV',
  'q.prev': 'Previous',
  'q.next': 'Next',
  'q.pageOf': 'Page {page} / {pages}',
  'q.total': '{total} records',
  'q.loading': 'Searching…',
  'q.empty': 'No matching records',
  'q.col.gcsj': 'Time',
  'q.col.hphm': 'Plate',
  'q.col.hpzl': 'Plate type',
  'q.col.kkmc': 'Checkpoint',
  'q.col.fxlx': 'Direction',
  'q.col.xzqhmc': 'District',
  'q.col.clppxh': 'Make / model',
  'q.col.province': 'Plate origin',
  'q.col.gcxh': 'Pass id',
  'q.checkpointsFallback': 'Checkpoint list taken from the pass ranking',
  'q.errorParam': 'Parameter {parameter}: ',
  't.hphm': 'Plate',
  't.search': 'Show trail',
  't.start': 'From',
  't.end': 'To',
  't.prompt': 'Enter a plate to see where it was seen',
  't.sightings': 'Sightings',
  't.legs': 'Legs',
  't.impossible': 'Impossible legs',
  't.speedLimit': 'Speed limit',
  't.truncated': 'Too many sightings: only the latest 10,000 are shown',
  't.map': 'Trail map',
  't.legTable': 'Legs',
  't.onlyImpossible': 'Impossible only',
  't.col.no': '#',
  't.col.from': 'From',
  't.col.to': 'To',
  't.col.distance': 'Distance (km)',
  't.col.interval': 'Interval',
  't.col.speed': 'Speed (km/h)',
  't.col.rule': 'Verdict',
  't.normal': 'OK',
  't.noCoords': 'no coordinates',
  't.noSightings': 'No sightings of this plate in the chosen time',
  't.point': 'Sighting {n}',
  'iv.d': 'd',
  'iv.h': 'h',
  'iv.min': 'min',
  'iv.s': 's',
  'iot.counter.series': 'Series',
  'iot.counter.devices': 'Devices',
  'iot.counter.received': 'Live points received',
  'iot.counter.last': 'Latest reading',
  'iot.panel.charts': 'Live readings · last 15 min',
  'iot.panel.latest': 'Latest values',
  'iot.panel.stats': 'Last 15 min statistics',
  'iot.panel.publish': 'Publish (MQTT)',
  'iot.panel.read': 'Read latest value',
  'iot.col.series': 'Series',
  'iot.col.tags': 'Tags',
  'iot.col.value': 'Last value',
  'iot.col.time': 'Last time',
  'iot.col.points': 'Points',
  'iot.col.count': 'Count',
  'iot.col.avg': 'Avg',
  'iot.col.min': 'Min',
  'iot.col.max': 'Max',
  'iot.topic': 'Topic',
  'iot.payload': 'Payload',
  'iot.publish': 'Publish',
  'iot.publishing': 'Publishing…',
  'iot.published': 'Published to {topic}',
  'iot.id': 'Series id',
  'iot.read': 'Read',
  'iot.reading': 'Reading…',
  'iot.notFound': '{id}: no data',
  'iot.empty': 'No sensor data yet, waiting for live data…',
  'iot.noSeries': 'No sensor series yet',
  'iot.statsEmpty': 'No data in the last 15 minutes',
  'iot.more': '{n} more metric(s) not charted: {fields} (see the tables below)',
  'iot.series': '{n} lines',
  'iot.panel.windows': 'Streaming window aggregates (event time)',
  'iot.col.tumbling': '1-min tumbling window',
  'iot.col.sliding': '5-min sliding window (every minute)',
  'iot.col.window': 'Window',
  'iot.windowsEmpty': 'No windows yet',
  'iot.windowOpen': 'open',
  'iot.windowsNote': 'avg / min / max; a window closes {lateness} s after its end and is updated live when it does',
  'iot.forecast': '{name} forecast',
  'iot.forecastNote': 'Dashed: autoregressive ridge forecast ({step} steps), backtest MAE {model}, last-value baseline {baseline}',
  'iot.field.temperature': 'Temperature',
  'iot.field.humidity': 'Humidity',
  'iot.field.pressure': 'Pressure',
  'iot.field.co2': 'CO₂',
  'iot.field.pm25': 'PM2.5',
  'iot.field.voltage': 'Voltage',
  'iot.field.battery': 'Battery',
  'iot.field.light': 'Light',
  'iot.field.value': 'Value',
};

const dictionaries: Record<Lang, Record<Key, string>> = { zh, en };

// Data values the API answers in Chinese, shown in English when English is chosen.
const provinces: Record<string, string> = {
  北京: 'Beijing', 天津: 'Tianjin', 河北: 'Hebei', 山西: 'Shanxi', 内蒙古: 'Inner Mongolia',
  辽宁: 'Liaoning', 吉林: 'Jilin', 黑龙江: 'Heilongjiang', 上海: 'Shanghai', 江苏: 'Jiangsu',
  浙江: 'Zhejiang', 安徽: 'Anhui', 福建: 'Fujian', 江西: 'Jiangxi', 山东: 'Shandong',
  河南: 'Henan', 湖北: 'Hubei', 湖南: 'Hunan', 广东: 'Guangdong', 广西: 'Guangxi',
  海南: 'Hainan', 重庆: 'Chongqing', 四川: 'Sichuan', 贵州: 'Guizhou', 云南: 'Yunnan',
  西藏: 'Tibet', 陕西: 'Shaanxi', 甘肃: 'Gansu', 青海: 'Qinghai', 宁夏: 'Ningxia',
  新疆: 'Xinjiang', 台湾: 'Taiwan', 香港: 'Hong Kong', 澳门: 'Macau', 南海诸岛: 'South China Sea Islands',
};

const values: Record<string, string> = {
  ...provinces,
  大型汽车: 'Large vehicle',
  小型汽车: 'Small vehicle',
  大型新能源汽车: 'Large NEV',
  小型新能源汽车: 'Small NEV',
  挂车: 'Trailer',
  使馆汽车: 'Embassy vehicle',
  领馆汽车: 'Consulate vehicle',
  境外汽车: 'Foreign vehicle',
  外籍汽车: 'Foreign vehicle',
  教练汽车: 'Learner car',
  警用汽车: 'Police vehicle',
  教练: 'Learner plates',
  其他: 'Other',
  未知: 'Unknown',
  上行: 'Up',
  下行: 'Down',
};

/** Plate types (hpzl) the query page offers. */
export const PLATE_TYPES: ReadonlyArray<[code: string, zh: string]> = [
  ['01', '大型汽车'],
  ['02', '小型汽车'],
  ['51', '大型新能源汽车'],
  ['52', '小型新能源汽车'],
  ['15', '挂车'],
];

function storedLang(): Lang {
  try {
    return localStorage.getItem(STORAGE_KEY) === 'en' ? 'en' : 'zh';
  } catch {
    return 'zh';
  }
}

let current: Lang = storedLang();
const listeners: Array<(lang: Lang) => void> = [];

export function lang(): Lang {
  return current;
}

/** The label for a key, with `{name}` placeholders filled in. */
export function t(key: Key, vars: Record<string, string | number> = {}): string {
  const text = dictionaries[current][key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name: string) => String(vars[name] ?? ''));
}

/** A data value (province, vehicle type, direction) in the chosen language. */
export function tv(value: string): string {
  return current === 'en' ? (values[value] ?? value) : value;
}

/** A plate-type code (`02`) as a name in the chosen language. */
export function plateTypeName(code: string): string {
  const entry = PLATE_TYPES.find(([c]) => c === code);
  return entry ? tv(entry[1]) : code;
}

export function ruleName(rule: string | null): string {
  if (!rule) return t('t.normal');
  const key = `rule.${rule}` as Key;
  return key in zh ? t(key) : rule;
}

/** A sensor field (`temperature`) in the chosen language; unknown fields as they are. */
export function fieldName(field: string): string {
  const key = `iot.field.${field.toLowerCase()}` as Key;
  return key in zh ? t(key) : field;
}

export function intervalUnits() {
  return { d: t('iv.d'), h: t('iv.h'), min: t('iv.min'), s: t('iv.s') };
}

/** Fills in the static labels under `root`. */
export function applyI18n(root: ParentNode = document): void {
  document.documentElement.lang = current === 'zh' ? 'zh-CN' : 'en';
  for (const el of root.querySelectorAll<HTMLElement>('[data-i18n]')) {
    el.textContent = t(el.dataset.i18n as Key);
  }
  for (const el of root.querySelectorAll<HTMLInputElement>('[data-i18n-placeholder]')) {
    el.placeholder = t(el.dataset.i18nPlaceholder as Key);
  }
  for (const el of root.querySelectorAll<HTMLElement>('[data-i18n-title]')) {
    el.title = t(el.dataset.i18nTitle as Key);
  }
}

export function onLangChange(listener: (lang: Lang) => void): void {
  listeners.push(listener);
}

export function setLang(next: Lang): void {
  current = next;
  try {
    localStorage.setItem(STORAGE_KEY, next);
  } catch {
    // private mode: the choice lasts for this page only
  }
  applyI18n();
  for (const listener of listeners) listener(next);
}

/** Labels the page and wires every `[data-lang-toggle]` button. */
export function initI18n(): void {
  applyI18n();
  for (const button of document.querySelectorAll<HTMLElement>('[data-lang-toggle]')) {
    button.addEventListener('click', () => setLang(current === 'zh' ? 'en' : 'zh'));
  }
}
