// Statistics: the published counts per street and community, fulfilments
// over time, satisfaction and the median days to light a wish up. Every
// figure comes from the relay; this page only draws them.

import { api, query, session } from '../api.js';
import { lang, t, label, STATUSES } from '../i18n.js';
import { h, heading, exportLink, scopeName, scopeOptions, personName, unitName, table, fmtNum, fmt1, fmtDate } from '../ui.js';
import { groupedBars, columns, bars, lines } from '../charts.js';

const KPIS = ['collected', 'reviewed', 'approved', 'claimed', 'fulfilled', 'confirmed'];
const PROGRESS = ['collected', 'reviewed', 'fulfilled', 'confirmed'];

/** Days → weeks when there are too many days for one chart. */
function buckets(days) {
  if (days.length <= 45) {
    return { unit: 'day', points: days.map((d) => ({ label: d.day.slice(5), values: [d.fulfilled, d.confirmed] })) };
  }
  const points = [];
  for (let i = 0; i < days.length; i += 7) {
    const week = days.slice(i, i + 7);
    points.push({
      label: week[0].day.slice(5),
      values: [week.reduce((a, d) => a + d.fulfilled, 0), week.reduce((a, d) => a + d.confirmed, 0)],
    });
  }
  return { unit: 'week', points };
}

/** The points leaderboards: volunteers and partner units, best first. */
function leaderboards(boards, scope) {
  const board = (title, list, name) => h('div', { class: 'board' },
    h('h3', {}, title),
    list.length
      ? table([
        { label: '#', cell: (x) => String(x.rank) },
        { label: t('col.who'), cell: (x) => name(x.who) },
        { label: t('col.points'), class: 'num', cell: (x) => fmtNum(x.points) },
        { label: t('col.done'), class: 'num', cell: (x) => fmtNum(x.wishes) },
      ], list.slice(0, 10).map((x, i) => ({ ...x, rank: i + 1 })), { caption: title, stack: false })
      : h('p', { class: 'empty' }, t('empty')));
  // The first three of each street and community.
  const places = (byPlace) => Object.entries(byPlace ?? {}).map(([place, list]) => h('li', {},
    h('strong', {}, scopeName(place)), t('colon'),
    list.slice(0, 3).map((x) => `${personName(x.who)} ${fmtNum(x.points)}`).join('、')));
  return h('section', { class: 'panel', id: 'leaderboards', 'aria-labelledby': 'boards-h' },
    h('h2', { id: 'boards-h' }, t('stats.boards')),
    h('p', { class: 'muted small' }, t('stats.boards.intro')),
    h('div', { class: 'grid two' },
      board(t('stats.boards.volunteers'), boards.volunteers, personName),
      board(t('stats.boards.units'), boards.units, unitName)),
    h('div', { class: 'grid two' },
      h('div', { class: 'board' }, h('h3', {}, t('stats.boards.by_street')), h('ul', { class: 'plain', id: 'boards-streets' }, places(boards.by_street))),
      h('div', { class: 'board' }, h('h3', {}, t('stats.boards.by_community')), h('ul', { class: 'plain', id: 'boards-communities' }, places(boards.by_community)))),
    h('p', {}, h('a', { class: 'button secondary', href: `/v1/export/points.csv${query({ scope })}`, download: '' }, t('stats.ledger'))));
}

function tile(key, value, note) {
  return h('div', { class: `kpi kpi-${key}`, dataset: { kpi: key } },
    h('p', { class: 'kpi-label' }, t(`stats.${key}`)),
    h('p', { class: 'kpi-value' }, value),
    note ? h('p', { class: 'kpi-note muted small' }, note) : null);
}

/**
 * What a printed copy says at its top (shown only in print): whose
 * dashboard, the scope the figures cover and the day it was printed.
 */
function printHeader(scope) {
  const now = new Date();
  const day = [now.getFullYear(), now.getMonth() + 1, now.getDate()].map((n) => String(n).padStart(2, '0')).join('-');
  const shown = scope ? scopeName(scope) : session.scopes.map(scopeName).join('、');
  return h('div', { class: 'print-header', id: 'print-header' },
    h('p', { class: 'print-title' }, `Doorstep ${t('brand')} · ${t('stats.title')}`),
    h('p', {},
      h('span', { dataset: { print: 'scope' } }, t('stats.print.scope'), t('colon'), shown),
      ' · ',
      h('span', { dataset: { print: 'date' } }, t('stats.print.date'), t('colon'), h('time', { datetime: day }, fmtDate(now.getTime())))));
}

export async function render(ctx) {
  const p = ctx.query;
  const scope = p.get('scope') ?? '';
  const tz = -new Date().getTimezoneOffset();
  const [report, series, scopes, boards] = await Promise.all([
    api(`/v1/stats${query({ scope })}`),
    api(`/v1/stats/timeline${query({ scope, tz_offset: tz })}`),
    scopeOptions(),
    api(`/v1/points/leaderboards${query({ scope })}`),
  ]);
  const total = report.total;
  const select = h('select', { id: 'stats-scope', name: 'scope' },
    h('option', { value: '' }, t('filter.scope.all')),
    scopes.map((x) => h('option', { value: x, selected: x === scope }, scopeName(x))));
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': t('filters') },
    h('div', { class: 'field' }, h('label', { for: 'stats-scope' }, t('filter.scope')), select),
    h('div', { class: 'field actions' }, h('button', { type: 'submit', class: 'primary' }, t('filter.apply'))));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const next = new URLSearchParams(p);
    if (select.value) next.set('scope', select.value);
    else next.delete('scope');
    ctx.go(next);
  });
  const progress = PROGRESS.map((k, i) => ({ label: t(`stats.${k}`), cls: `s${i}` }));
  const lit = [{ label: t('stats.fulfilled'), cls: 's2' }, { label: t('stats.confirmed'), cls: 's3' }];
  let running = [0, 0];
  const cumulative = series.days.map((d) => {
    running = [running[0] + d.fulfilled, running[1] + d.confirmed];
    return { label: d.day.slice(5), values: running };
  });
  const group = (list) => list.map((x) => ({ label: scopeName(x.scope), values: PROGRESS.map((k) => x[k]) }));
  const time = buckets(series.days);
  const ratings = [5, 4, 3, 2, 1].map((n) => ({ label: '★'.repeat(n), value: series.ratings[n - 1] }));
  return [
    printHeader(scope),
    heading(t('stats.title'), t('stats.intro')),
    h('div', { class: 'toolbar' }, form,
      h('div', { class: 'row wrap' },
        h('a', {
          class: 'button secondary',
          id: 'stats-csv',
          href: `/v1/export/stats.csv${query({ scope, lang })}`,
          download: 'stats.csv',
          title: t('stats.csv.title'),
        }, '⤓ ', t('stats.csv')),
        exportLink({ scope }),
        h('button', { type: 'button', class: 'secondary', id: 'stats-print', onclick: () => window.print() }, t('stats.print')))),
    h('div', { class: 'kpis', id: 'kpis' },
      KPIS.map((k) => tile(k, fmtNum(total[k]))),
      tile('satisfaction', total.satisfaction === null ? '–' : fmt1(total.satisfaction), t('stats.of5')),
      tile('median', total.median_days_to_fulfil === null ? '–' : fmt1(total.median_days_to_fulfil), t('stats.median.unit'))),
    h('div', { class: 'grid two' },
      h('section', { class: 'panel' },
        groupedBars({ title: t('stats.by_street'), groups: group(report.streets), series: progress }),
        h('hr', { class: 'sep' }),
        bars({
          title: t('stats.by_status'),
          items: STATUSES.filter((x) => total.by_status[x]).map((x) => ({ label: label('status', x), value: total.by_status[x] })),
          width: 600,
        })),
      h('section', { class: 'panel' }, groupedBars({ title: t('stats.by_community'), groups: group(report.communities), series: progress }))),
    h('div', { class: 'grid two' },
      h('section', { class: 'panel' }, columns({
        title: t('stats.over_time'),
        desc: t('stats.over_time.desc', { bucket: t(`stats.bucket.${time.unit}`) }),
        points: time.points,
        series: lit,
      })),
      h('section', { class: 'panel' }, lines({
        title: t('stats.running'),
        desc: t('stats.running.desc'),
        points: cumulative,
        series: lit,
      }))),
    h('div', { class: 'grid three' },
      h('section', { class: 'panel' }, bars({ title: t('stats.ratings'), items: ratings, cls: 's2' })),
      h('section', { class: 'panel' }, bars({
        title: t('stats.satisfaction_by'),
        items: report.communities.map((c) => ({ label: scopeName(c.scope), value: c.satisfaction })),
        max: 5,
        format: fmt1,
        cls: 's3',
      })),
      h('section', { class: 'panel' }, bars({
        title: t('stats.median_by'),
        items: report.communities.map((c) => ({ label: scopeName(c.scope), value: c.median_days_to_fulfil })),
        format: fmt1,
        cls: 's1',
      }))),
    leaderboards(boards, scope),
  ];
}
