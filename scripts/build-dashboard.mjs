// Builds deploy/grafana/dashboards/holdq.json (node scripts/build-dashboard.mjs; --check in CI).
// Panels are data here so the dashboard stays reviewable; it uses only metrics holdq exports.
import { readFileSync, writeFileSync } from 'node:fs';

const ds = { type: 'prometheus', uid: 'prometheus' };
let id = 0;
let y = 0;
const panels = [];

function row(title) {
  panels.push({ type: 'row', title, id: ++id, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y: y++ }, panels: [] });
}

/** Adds a row of panels, each [title, unit, targets: [expr, legend][], type?]. */
function line(...specs) {
  const w = Math.floor(24 / specs.length);
  specs.forEach(([title, unit, targets, type = 'timeseries'], i) => {
    panels.push({
      type,
      title,
      id: ++id,
      datasource: ds,
      gridPos: { h: 8, w, x: i * w, y },
      fieldConfig: { defaults: { unit }, overrides: [] },
      options:
        type === 'stat'
          ? { reduceOptions: { calcs: ['lastNotNull'] } }
          : { legend: { displayMode: 'list', placement: 'bottom' } },
      targets: targets.map(([expr, legendFormat], j) => ({
        refId: String.fromCharCode(65 + j),
        datasource: ds,
        expr,
        legendFormat,
      })),
    });
  });
  y += 8;
}

const q = (p, metric, by = '') =>
  `histogram_quantile(${p}, sum by (le${by ? `, ${by}` : ''}) (rate(${metric}_bucket[5m])))`;

row('API (RED)');
line(
  ['Requests by route', 'reqps', [['sum by (route) (rate(holdq_http_requests_total[5m]))', '{{route}}']]],
  [
    'Errors',
    'percentunit',
    [
      ['sum(rate(holdq_http_requests_total{status=~"5.."}[5m])) / sum(rate(holdq_http_requests_total[5m]))', '5xx'],
      ['sum(rate(holdq_http_requests_total{status=~"4.."}[5m])) / sum(rate(holdq_http_requests_total[5m]))', '4xx'],
    ],
  ],
  [
    'Latency',
    's',
    [
      [q(0.5, 'holdq_http_request_duration_seconds'), 'p50'],
      [q(0.95, 'holdq_http_request_duration_seconds'), 'p95'],
      [q(0.99, 'holdq_http_request_duration_seconds'), 'p99'],
    ],
  ],
);
row('Intents');
line(
  ['Received by type', 'ops', [['sum by (type) (rate(holdq_intents_received_total[5m]))', '{{type}}']]],
  [
    'Finished by type and outcome',
    'ops',
    [['sum by (type, outcome) (rate(holdq_intents_finished_total[5m]))', '{{type}} {{outcome}}']],
  ],
  [
    'Accepted → finished',
    's',
    [
      [q(0.5, 'holdq_intent_duration_seconds'), 'p50'],
      [q(0.95, 'holdq_intent_duration_seconds'), 'p95'],
      [q(0.99, 'holdq_intent_duration_seconds'), 'p99'],
    ],
  ],
);
row('Plivo');
line(
  [
    'Transfer requests by account and status',
    'reqps',
    [['sum by (account, status) (rate(holdq_plivo_requests_total[5m]))', '{{account}} {{status}}']],
  ],
  [
    'Transfer latency',
    's',
    [
      [q(0.5, 'holdq_plivo_request_duration_seconds'), 'p50'],
      [q(0.95, 'holdq_plivo_request_duration_seconds'), 'p95'],
      [q(0.99, 'holdq_plivo_request_duration_seconds'), 'p99'],
    ],
  ],
  ['Retries by reason', 'ops', [['sum by (reason) (rate(holdq_transfer_retries_total[5m]))', '{{reason}}']]],
  [
    'Wait for a rate slot, by class (PLIVO_MAX_RPS)',
    's',
    [
      [q(0.5, 'holdq_plivo_rate_wait_seconds', 'class'), 'p50 {{class}}'],
      [q(0.99, 'holdq_plivo_rate_wait_seconds', 'class'), 'p99 {{class}}'],
    ],
  ],
  ['Simulator mode', 'none', [['max(holdq_plivo_simulated)', 'simulated']], 'stat'],
);
row('Jobs');
line(
  ['Job backlog by state', 'short', [['sum by (state) (max by (state, account) (holdq_jobs))', '{{state}}']]],
  ['Completion callbacks', 'ops', [['sum by (outcome) (rate(holdq_callbacks_total[5m]))', '{{outcome}}']]],
);
row('Queues');
line(
  [
    'Callers waiting',
    'short',
    [['max by (account, queue) (holdq_queue_callers{queue=~"$queue"})', '{{account}} {{queue}}']],
  ],
  [
    'Oldest wait',
    's',
    [['max by (account, queue) (holdq_queue_oldest_wait_seconds{queue=~"$queue"})', '{{account}} {{queue}}']],
  ],
  [
    "Service level (answered within each queue's service_level_seconds) and its target",
    'percentunit',
    [
      ['max by (account, queue) (holdq_queue_service_level_ratio{queue=~"$queue"})', '{{account}} {{queue}}'],
      ['max by (account, queue) (holdq_queue_service_level_target{queue=~"$queue"})', '{{account}} {{queue}} target'],
    ],
  ],
  [
    "Abandon rate (last 15 min; the API's abandoned_ratio covers STATS_WINDOW_SECONDS)",
    'percentunit',
    [
      [
        'sum by (queue) (rate(holdq_queue_wait_seconds_count{outcome="abandoned",queue=~"$queue"}[15m])) / sum by (queue) (rate(holdq_queue_wait_seconds_count{queue=~"$queue"}[15m]))',
        '{{queue}}',
      ],
    ],
  ],
);
line(
  [
    'Wait by outcome (p50)',
    's',
    [
      [
        q(0.5, 'holdq_queue_wait_seconds', 'queue, outcome').replace(
          'holdq_queue_wait_seconds_bucket[5m]',
          'holdq_queue_wait_seconds_bucket{queue=~"$queue"}[5m]',
        ),
        '{{queue}} {{outcome}}',
      ],
    ],
  ],
  [
    'Estimated wait for a caller joining now',
    's',
    [['max by (account, queue) (holdq_queue_estimated_wait_seconds{queue=~"$queue"})', '{{account}} {{queue}}']],
  ],
  ['Event streams open', 'short', [['sum(holdq_event_streams)', 'streams']]],
);
line(
  [
    'Call-backs (call me back) by step',
    'short',
    [['sum by (account, outcome) (increase(holdq_queue_callbacks_total[15m]))', '{{account}} {{outcome}}']],
  ],
  [
    'Call-backs answered, of those placed',
    'percentunit',
    [
      [
        'sum by (account) (increase(holdq_queue_callbacks_total{outcome="connected"}[1h])) / sum by (account) (increase(holdq_queue_callbacks_total{outcome="dialed"}[1h]))',
        '{{account}}',
      ],
    ],
  ],
);
row('Hold');
line(
  ['Calls on hold', 'short', [['sum(max by (account) (holdq_calls_on_hold))', 'on hold']]],
  [
    'Hold duration',
    's',
    [
      [q(0.5, 'holdq_hold_duration_seconds'), 'p50'],
      [q(0.95, 'holdq_hold_duration_seconds'), 'p95'],
    ],
  ],
  ['Targets up', 'short', [['up{job=~"holdq-.*"}', '{{job}} {{instance}}']]],
);

const dashboard = {
  uid: 'holdq',
  title: 'holdq',
  tags: ['holdq'],
  timezone: 'browser',
  schemaVersion: 39,
  version: 1,
  editable: true,
  refresh: '30s',
  time: { from: 'now-3h', to: 'now' },
  templating: {
    list: [
      {
        name: 'queue',
        type: 'query',
        datasource: ds,
        query: { query: 'label_values(holdq_queue_callers, queue)', refId: 'queue' },
        definition: 'label_values(holdq_queue_callers, queue)',
        includeAll: true,
        multi: true,
        current: { text: 'All', value: '$__all' },
        refresh: 2,
      },
    ],
  },
  annotations: { list: [] },
  panels,
};

const out = 'deploy/grafana/dashboards/holdq.json';
const text = `${JSON.stringify(dashboard, null, 2)}\n`;
if (process.argv.includes('--check')) {
  if (readFileSync(out, 'utf8') !== text) {
    console.error(`${out} is out of date: run node scripts/build-dashboard.mjs`);
    process.exit(1);
  }
  console.log(`${out} is up to date`);
} else {
  writeFileSync(out, text);
  console.log(`wrote ${out} (${panels.length} panels)`);
}
