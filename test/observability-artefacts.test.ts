import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { startStack, type IntentView, type Stack } from './helpers/stack.js';

/** Every holdq_ metric name an expression uses, histogram suffixes folded into their family. */
function metricNames(exprs: string[]): Set<string> {
  const names = new Set<string>();
  for (const expr of exprs)
    for (const m of expr.matchAll(/\bholdq_[a-z_]+/g)) names.add(m[0].replace(/_(bucket|sum|count)$/, ''));
  return names;
}

function dashboardExprs(): string[] {
  const dash = JSON.parse(
    readFileSync(new URL('../deploy/grafana/dashboards/holdq.json', import.meta.url), 'utf8'),
  ) as {
    panels: { targets?: { expr: string }[] }[];
    templating: { list: { definition: string }[] };
  };
  return [
    ...dash.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
    ...dash.templating.list.map((t) => t.definition),
  ];
}

function ruleExprs(): string[] {
  const rules = parse(readFileSync(new URL('../deploy/prometheus/alerts.yml', import.meta.url), 'utf8')) as {
    groups: { rules: { expr: string }[] }[];
  };
  return rules.groups.flatMap((g) => g.rules.map((r) => r.expr));
}

describe('dashboards and alerts use only what holdq exports', () => {
  let stack: Stack;
  let exposition: string;
  beforeAll(async () => {
    stack = await startStack();
    // Some traffic, so every family has samples (promtool lints samples too).
    const call = `obs-${randomUUID()}`;
    for (const body of [
      { type: 'hold', call_uuid: call },
      { type: 'unhold', call_uuid: call },
      { type: 'enqueue', call_uuid: call, queue: 'support' },
      { type: 'dequeue', queue: 'support', agent_call_uuid: `agent-${randomUUID()}` },
    ]) {
      const { id } = (await (await stack.post(body)).json()) as IntentView;
      await stack.waitForIntent(id);
    }
    exposition = await (await stack.get('/metrics', { key: null })).text();
  });
  afterAll(() => stack.stop());

  it('when the dashboard and the alert rules are read, then every metric they use is a family on /metrics', () => {
    const families = new Set([...exposition.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
    const used = metricNames([...dashboardExprs(), ...ruleExprs()]);
    expect(used.size).toBeGreaterThan(10);
    expect([...used].filter((name) => !families.has(name))).toEqual([]);
  });

  it('when promtool lints the holdq_ families, then it finds no problem', () => {
    const promtool = spawnSync('promtool', ['--version']);
    if (promtool.status !== 0) {
      // .ci/run installs promtool; only a bare developer machine may lack it.
      expect(process.env.CI).toBeFalsy();
      return;
    }
    const holdq = exposition
      .split('\n')
      .filter((l) => /^(# (HELP|TYPE) )?holdq_/.test(l))
      .join('\n');
    const result = spawnSync('promtool', ['check', 'metrics'], { input: `${holdq}\n`, encoding: 'utf8' });
    expect({ status: result.status, output: `${result.stdout}${result.stderr}`.trim() }).toEqual({
      status: 0,
      output: '',
    });
  });
});
