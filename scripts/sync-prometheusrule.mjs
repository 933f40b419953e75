// Writes k8s/prometheusrule.yaml from deploy/prometheus/alerts.yml, so the plain rules
// file and the prometheus-operator resource carry the same alerts.
//   node scripts/sync-prometheusrule.mjs          write it
//   node scripts/sync-prometheusrule.mjs --check  fail if it is out of date (CI)
import { readFileSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';

const rules = parse(readFileSync('deploy/prometheus/alerts.yml', 'utf8'));
const resource = {
  apiVersion: 'monitoring.coreos.com/v1',
  kind: 'PrometheusRule',
  metadata: { name: 'holdq', labels: { release: 'prometheus' } },
  spec: { groups: rules.groups },
};
const text = `# Generated from deploy/prometheus/alerts.yml by scripts/sync-prometheusrule.mjs; do not edit.\n${stringify(resource, { lineWidth: 0 })}`;
if (process.argv.includes('--check')) {
  const current = readFileSync('k8s/prometheusrule.yaml', 'utf8');
  if (current !== text) {
    console.error('k8s/prometheusrule.yaml is out of date: run node scripts/sync-prometheusrule.mjs');
    process.exit(1);
  }
  console.log('k8s/prometheusrule.yaml matches deploy/prometheus/alerts.yml');
} else {
  writeFileSync('k8s/prometheusrule.yaml', text);
  console.log('wrote k8s/prometheusrule.yaml');
}
