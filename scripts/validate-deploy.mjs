// Validates the deployment files offline, with real schemas (no Docker engine or cluster here):
//   docker-compose.yml  against the Compose Specification JSON schema (../shared/schemas/compose-spec.json)
//   k8s/                rendered by `kubectl kustomize`, every object against the Kubernetes (and
//                       prometheus-operator, KEDA) OpenAPI schemas of the kubernetes-models packages,
//                       plus holdq's own rules: hardened pods, probes, limits, a grace period past the drain.
// Usage: node scripts/validate-deploy.mjs [compose-schema-path]
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { parse, parseAllDocuments } from 'yaml';
import * as apps from 'kubernetes-models/apps/v1';
import * as autoscaling from 'kubernetes-models/autoscaling/v2';
import * as core from 'kubernetes-models/v1';
import * as networking from 'kubernetes-models/networking.k8s.io/v1';
import * as policy from 'kubernetes-models/policy/v1';
import * as monitoring from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import * as keda from '@kubernetes-models/keda/keda.sh/v1alpha1';

const problems = [];
const fail = (msg) => problems.push(msg);

// --- docker compose ---
const schemaPath = process.argv[2] ?? '../shared/schemas/compose-spec.json';
if (!existsSync(schemaPath)) {
  fail(`compose schema not found at ${schemaPath}`);
} else {
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats(ajv);
  // The schema names its draft as https://json-schema.org/draft-07/schema, a spelling Ajv does not
  // know; it is draft-07, which is Ajv's default dialect.
  const { $schema: _draft, ...schema } = JSON.parse(readFileSync(schemaPath, 'utf8'));
  const validate = ajv.compile(schema);
  const compose = parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true });
  if (!validate(compose)) for (const e of validate.errors) fail(`docker-compose.yml${e.instancePath}: ${e.message}`);
  const redis = compose.services?.redis?.command?.join(' ') ?? '';
  if (!/--appendonly yes/.test(redis) || !/--maxmemory-policy noeviction/.test(redis))
    fail('docker-compose.yml: redis needs appendonly yes and noeviction');
  for (const s of ['redis', 'api', 'worker', 'simulator', 'prometheus', 'grafana'])
    if (!compose.services?.[s]) fail(`docker-compose.yml: no ${s} service`);

  // The model Compose builds for each set of active profiles: with none (real Plivo, README) the
  // simulator is left out, and in every model each depends_on names a service that is in it or
  // says required: false (else Compose refuses: "service ... is required by ... but is disabled").
  const services = compose.services ?? {};
  const profiles = [...new Set(Object.values(services).flatMap((svc) => svc.profiles ?? []))];
  for (const active of [[], ...profiles.map((p) => [p])]) {
    const on = (name) =>
      Boolean(services[name]) && (!services[name].profiles || services[name].profiles.some((p) => active.includes(p)));
    for (const [name, svc] of Object.entries(services)) {
      if (!on(name)) continue;
      const deps = Array.isArray(svc.depends_on)
        ? Object.fromEntries(svc.depends_on.map((d) => [d, {}]))
        : (svc.depends_on ?? {});
      for (const [dep, cfg] of Object.entries(deps)) {
        if (!on(dep) && cfg.required !== false)
          fail(
            `docker-compose.yml: with profiles [${active.join(', ')}], ${name} depends on ${dep}, which is not started (mark it required: false)`,
          );
      }
    }
    if (active.length === 0 && on('simulator'))
      fail(
        'docker-compose.yml: the simulator starts with no profile active; real Plivo must run without it (profiles: ["simulator"])',
      );
  }
}

// --- the V8 heap cap: the image and `npm start` run holdq with the same node flags ---
{
  const imageFlags = /^ENV NODE_OPTIONS="([^"]*)"/m.exec(readFileSync('Dockerfile', 'utf8'))?.[1];
  if (!imageFlags) fail('Dockerfile: no ENV NODE_OPTIONS (the heap cap holdq is measured with)');
  const { scripts } = JSON.parse(readFileSync('package.json', 'utf8'));
  for (const name of ['start', 'start:api', 'start:worker']) {
    const flags = /^node (.*?) ?dist\/main\.js /.exec(scripts[name] ?? '')?.[1];
    if (flags !== imageFlags)
      fail(`package.json ${name}: node flags "${flags}" differ from the image's NODE_OPTIONS "${imageFlags}"`);
  }
}

// --- kubernetes ---
const models = {
  'v1/Namespace': core.Namespace,
  'v1/ConfigMap': core.ConfigMap,
  'v1/Secret': core.Secret,
  'v1/Service': core.Service,
  'apps/v1/Deployment': apps.Deployment,
  'apps/v1/StatefulSet': apps.StatefulSet,
  'policy/v1/PodDisruptionBudget': policy.PodDisruptionBudget,
  'autoscaling/v2/HorizontalPodAutoscaler': autoscaling.HorizontalPodAutoscaler,
  'networking.k8s.io/v1/NetworkPolicy': networking.NetworkPolicy,
  'monitoring.coreos.com/v1/ServiceMonitor': monitoring.ServiceMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': monitoring.PrometheusRule,
  'keda.sh/v1alpha1/ScaledObject': keda.ScaledObject,
};
const rendered = execFileSync('kubectl', ['kustomize', 'k8s'], { encoding: 'utf8' });
const objects = parseAllDocuments(rendered)
  .map((d) => d.toJSON())
  .filter(Boolean);
const secretExample = parse(readFileSync('k8s/secret.example.yaml', 'utf8'));
const config = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'holdq-config');
const drainSeconds = Number(config?.data?.SHUTDOWN_TIMEOUT_MS ?? 25000) / 1000;
const kinds = new Set();
for (const obj of [...objects, secretExample]) {
  const key = `${obj.apiVersion}/${obj.kind}`;
  const name = `${obj.kind}/${obj.metadata?.name}`;
  kinds.add(obj.kind);
  const Model = models[key];
  if (!Model) {
    fail(`${name}: no schema known for ${key}`);
    continue;
  }
  try {
    new Model(obj).validate();
  } catch (err) {
    fail(`${name}: ${err.message.split('\n').slice(0, 5).join(' ')}`);
  }
  const pod = obj.spec?.template?.spec;
  if (!pod) continue;
  if (pod.securityContext?.runAsNonRoot !== true) fail(`${name}: pod must runAsNonRoot`);
  if (obj.kind === 'Deployment' && !(pod.terminationGracePeriodSeconds > drainSeconds)) {
    fail(`${name}: terminationGracePeriodSeconds must be longer than the ${drainSeconds} s drain`);
  }
  for (const c of pod.containers) {
    const sc = c.securityContext ?? {};
    if (sc.readOnlyRootFilesystem !== true || sc.allowPrivilegeEscalation !== false)
      fail(`${name}/${c.name}: read-only root and no privilege escalation`);
    if (!c.resources?.requests || !c.resources?.limits?.memory)
      fail(`${name}/${c.name}: resource requests and a memory limit`);
    if (!c.readinessProbe || !c.livenessProbe) fail(`${name}/${c.name}: readiness and liveness probes`);
  }
}
for (const kind of [
  'Namespace',
  'ConfigMap',
  'Deployment',
  'Service',
  'StatefulSet',
  'PodDisruptionBudget',
  'HorizontalPodAutoscaler',
  'NetworkPolicy',
  'ServiceMonitor',
  'PrometheusRule',
  'ScaledObject',
]) {
  if (!kinds.has(kind)) fail(`k8s: no ${kind}`);
}

if (problems.length > 0) {
  console.error(`deployment files: ${problems.length} problem(s)\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  process.exit(1);
}
console.log(
  `deployment files OK: docker-compose.yml against the Compose schema; ${objects.length} Kubernetes objects from kubectl kustomize k8s`,
);
