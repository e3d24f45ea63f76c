// The operator kit (deploy/monitoring/): Grafana dashboard and Prometheus alert rules. Every PromQL
// expression is parsed with Prometheus's own parser and the rule groups pass Prometheus's own rule-file
// validation (promql-check, built from the Go module proxy when Go is installed; skipped with the
// reason otherwise), and every metric they name must be exported by a real CA and a real agent whose
// /metrics this test scrapes. A dashboard or rule naming a metric (or a label value) the code does not
// export fails here.
import { execFile, spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentConfigFrom, runAgent } from '../../cli/agent.js';
import { createLogger } from '../../cli/logger.js';
import { parsePrometheusText, type Exposition } from '../helpers/prometheus-text.js';
import { until } from '../helpers/until.js';
import { agentFixture } from '../helpers/agent-fixture.js';
import { promqlMetricNames } from '../helpers/promql-names.js';

const haveGo = spawnSync('go', ['version']).status === 0;
if (!haveGo) console.log('monitoring kit: PromQL syntax and rule-file checks skipped (`go` is not installed); metric names are checked with the fallback extractor');

// ---- the kit ---------------------------------------------------------------------------------------

interface Expr {
  readonly where: string;
  readonly expr: string;
}

interface Panel {
  id?: number;
  type?: string;
  title?: string;
  datasource?: { type?: string; uid?: string };
  targets?: { expr?: string; datasource?: { uid?: string } }[];
  panels?: Panel[];
}

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const dashboard = JSON.parse(readFileSync('deploy/monitoring/grafana-dashboard.json', 'utf8')) as {
  uid?: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query?: string | { query?: string } }[] };
};
const prometheusRule = parseYaml(readFileSync('deploy/monitoring/prometheus-rules.yaml', 'utf8')) as {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: { groups: { name: string; rules: Rule[] }[] };
};

/** Grafana's variables as a query would see them: ranges become a duration, job pickers match all. */
function grafanaToPromql(expr: string): string {
  return expr
    .replace(/\$__rate_interval|\$\{__rate_interval\}|\$__interval|\$\{__interval\}/g, '5m')
    .replace(/\$__range|\$\{__range\}/g, '1h')
    .replace(/\$\{?(ca_job|agent_job)\}?/g, '.*');
}

function allPanels(ps: Panel[]): Panel[] {
  return ps.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}

const dashboardExprs: Expr[] = [
  ...allPanels(dashboard.panels).flatMap((p) => (p.targets ?? []).map((t, i) => ({ where: `dashboard panel "${p.title}" target ${i}`, expr: grafanaToPromql(t.expr ?? '') }))),
  // Query variables use Grafana's label_values(<selector>, <label>): the selector is PromQL.
  ...dashboard.templating.list.flatMap((v) => {
    const q = typeof v.query === 'string' ? v.query : v.query?.query;
    const m = q ? /^label_values\((.*),\s*[a-zA-Z_]\w*\)$/.exec(q) : null;
    return v.type === 'query' ? [{ where: `dashboard variable $${v.name}`, expr: m ? m[1]! : `<not label_values: ${q}>` }] : [];
  }),
];
const rules = prometheusRule.spec.groups.flatMap((g) => g.rules.map((r) => ({ group: g.name, ...r })));
const ruleExprs: Expr[] = rules.map((r) => ({ where: `rule ${r.alert ?? r.record}`, expr: r.expr }));
const kitExprs = [...dashboardExprs, ...ruleExprs];

// ---- promql-check (Prometheus's parser and rule-file validation) ------------------------------------

interface Selector {
  metric: string;
  matchers: { label: string; op: string; value: string }[];
}
interface CheckOutput {
  exprs: { expr: string; error?: string; selectors: Selector[] }[];
  ruleErrors: string[];
}

let checker: string | undefined;
async function promqlCheck(exprs: string[], rulesYaml = ''): Promise<CheckOutput> {
  const child = spawn(checker!, [], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<number | null>((resolve) => child.on('close', resolve));
  child.stdin.end(JSON.stringify({ exprs, rules: rulesYaml }));
  const code = await done;
  if (code !== 0) throw new Error(`promql-check exited ${code}: ${err}`);
  return JSON.parse(out) as CheckOutput;
}

/** The rule groups as a plain Prometheus rules file (what the operator hands Prometheus). */
const rulesFile = stringifyYaml({ groups: prometheusRule.spec.groups });

// ---- a real CA and agent ---------------------------------------------------------------------------

let f: Awaited<ReturnType<typeof agentFixture>>;
let caMetrics: Exposition;
let agentMetrics: Exposition;
let stopAgent: (() => void) | undefined;
let agentRun: Promise<void> | undefined;

beforeAll(async () => {
  const build = haveGo ? promisify(execFile)('bash', ['test/deploy/promql-check/build.sh'], { timeout: 900_000, maxBuffer: 1 << 24 }) : undefined;
  f = await agentFixture();
  const token = path.join(f.dir, 'token');
  await f.writeToken(token, 'shop', 'cart');
  writeFileSync(path.join(f.dir, 'bundle.pem'), f.bundlePem);
  let err = '';
  let out = '';
  const io = { out: (s: string) => void (out += s), err: (s: string) => void (err += s), cwd: f.dir, env: {}, now: () => new Date() };
  // The agent as `castellan agent --http` runs it (its /metrics is the CLI's endpoint).
  const config = await agentConfigFrom({ caAddr: f.address, caBundle: 'bundle.pem', tokenFile: 'token', socket: path.join(f.dir, 'sds.sock'), http: '127.0.0.1:0' }, io);
  agentRun = runAgent(
    config,
    io,
    createLogger(io, 'castellan-agent', () => undefined),
    new Promise<void>((r) => (stopAgent = r)),
  );
  await until(() => /HTTP on port \d+/.test(err), 'the agent serves HTTP', 30_000);
  const agentPort = /HTTP on port (\d+)/.exec(err)![1];
  const scrape = async (port: string | number) => parsePrometheusText(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
  await until(async () => (await scrape(agentPort!)).find('castellan_agent_certificate_expiry_seconds').length === 1, 'the agent holds a certificate', 30_000);
  agentMetrics = await scrape(agentPort!);
  caMetrics = await scrape(f.ca.server.httpPort);
  if (build) checker = (await build).stdout.trim();
}, 900_000);

afterAll(async () => {
  stopAgent?.();
  await agentRun;
  await f?.cleanup();
});

/** Series Prometheus makes itself for every target (not exported by any code of ours). */
const PROMETHEUS_SERIES = new Set(['up']);

function exportedNames(): Set<string> {
  return new Set([...caMetrics.names, ...agentMetrics.names, ...PROMETHEUS_SERIES]);
}

/** The metrics of `names` that neither the CA nor the agent exports. */
function unexported(names: Iterable<string>): string[] {
  const exported = exportedNames();
  return [...new Set(names)].filter((n) => !exported.has(n)).sort();
}

// ---- tests -----------------------------------------------------------------------------------------

describe('deploy/monitoring: the PrometheusRule and the dashboard are well-formed', () => {
  it('ok/PrometheusRule: kind, unique alert names, severity warning|critical, summary and description on every alert', () => {
    expect(prometheusRule).toMatchObject({ apiVersion: 'monitoring.coreos.com/v1', kind: 'PrometheusRule', metadata: { name: 'castellan' } });
    const names = rules.map((r) => r.alert);
    expect(new Set(names).size).toBe(names.length);
    for (const r of rules) {
      expect(r.alert, JSON.stringify(r)).toMatch(/^Castellan[A-Z]\w+$/);
      expect(['warning', 'critical'], r.alert).toContain(r.labels?.['severity']);
      expect(r.annotations?.['summary'], r.alert).toBeTruthy();
      expect(r.annotations?.['description'], r.alert).toBeTruthy();
    }
  });

  it('ok/the alerts operators need: expiry (root, intermediate, serving; warning and critical), lagging agents for 10m, refusal rate, ledger errors, CA down and absent', () => {
    const byName = new Map(rules.map((r) => [r.alert!, r]));
    for (const what of ['Root', 'Intermediate', 'Serving']) {
      expect(byName.get(`Castellan${what}CertificateExpiring`)?.labels?.['severity']).toBe('warning');
      expect(byName.get(`Castellan${what}CertificateExpiringCritical`)?.labels?.['severity']).toBe('critical');
    }
    // Roots and intermediates: 30 days (warning) and 7 days (critical).
    for (const what of ['Root', 'Intermediate']) {
      expect(byName.get(`Castellan${what}CertificateExpiring`)!.expr).toMatch(/< 30 \* 86400/);
      expect(byName.get(`Castellan${what}CertificateExpiringCritical`)!.expr).toMatch(/< 7 \* 86400/);
    }
    expect(byName.get('CastellanAgentsLagging')).toMatchObject({ for: '10m' });
    for (const n of ['CastellanRefusalRateHigh', 'CastellanLedgerErrors', 'CastellanLedgerBroken', 'CastellanCADown', 'CastellanCAAbsent']) expect(byName.has(n), n).toBe(true);
    expect(byName.get('CastellanCAAbsent')!.expr).toMatch(/^absent\(/);
  });

  it('ok/dashboard: a uid, unique panel ids, every query panel on the ${datasource} variable', () => {
    expect(dashboard.uid).toBe('castellan-overview');
    const panels = allPanels(dashboard.panels);
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of panels.filter((x) => x.type !== 'row')) {
      expect(p.title).toBeTruthy();
      expect(p.datasource?.uid, p.title).toBe('${datasource}');
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets ?? []) expect(t.expr, p.title).toBeTruthy();
    }
  });

  it('ok/the dashboard shows what operators asked for (each metric appears in some panel)', () => {
    const used = new Set(dashboardExprs.flatMap((e) => promqlMetricNames(e.expr)));
    for (const m of [
      'castellan_csr_total',
      'castellan_issuance_duration_seconds_bucket',
      'castellan_authentication_failures_total',
      'castellan_authority_expiry_seconds',
      'castellan_serving_certificate_expiry_seconds',
      'castellan_trust_bundle_watchers',
      'castellan_trust_bundle_sequence',
      'castellan_agents',
      'castellan_ledger_errors_total',
      'castellan_agent_certificate_expiry_seconds',
      'castellan_sds_open_streams',
      'castellan_sds_pushes_total',
      'castellan_sds_nacks_total',
    ]) {
      expect(used.has(m), m).toBe(true);
    }
  });
});

describe('deploy/monitoring: every metric the kit names is exported by the code', () => {
  it('ok/the scrape is real: both endpoints answered with their own metrics', () => {
    expect(caMetrics.find('castellan_trust_bundle_sequence')).toHaveLength(1);
    expect(agentMetrics.find('castellan_agent_certificate_expiry_seconds')).toHaveLength(1);
    expect(caMetrics.names.has('castellan_agent_certificate_expiry_seconds')).toBe(false);
  });

  it('ok/no dashboard target, variable or rule names a metric that a real CA or agent does not export', async () => {
    const names = checker ? (await promqlCheck(kitExprs.map((e) => e.expr))).exprs.map((r) => r.selectors.map((s) => s.metric)) : kitExprs.map((e) => promqlMetricNames(e.expr));
    const problems = kitExprs.flatMap((e, i) => unexported(names[i]!).map((n) => `${e.where}: ${n}`));
    expect(problems).toEqual([]);
    expect(names.flat().length).toBeGreaterThan(40);
  });

  it('fail/control: a misspelt metric is reported (the comparison can fail)', () => {
    expect(unexported(promqlMetricNames('sum(rate(castellan_csr_totl[5m])) / castellan_agents'))).toEqual(['castellan_csr_totl']);
    expect(unexported(promqlMetricNames('castellan_issuance_duration_seconds'))).toEqual(['castellan_issuance_duration_seconds']); // a histogram has no bare series
  });
});

describe.skipIf(!haveGo)("deploy/monitoring: Prometheus's own parser and rule-file checks (promql-check)", () => {
  it('ok/every expression parses', async () => {
    const r = await promqlCheck(kitExprs.map((e) => e.expr));
    const errors = r.exprs.flatMap((x, i) => (x.error ? [`${kitExprs[i]!.where}: ${x.error}`] : []));
    expect(errors).toEqual([]);
  });

  it('ok/the rule groups pass the validation `promtool check rules` runs (durations, label names, annotation templates)', async () => {
    expect((await promqlCheck([], rulesFile)).ruleErrors).toEqual([]);
  });

  it('fail/control: a broken expression and a broken rule are reported', async () => {
    const r = await promqlCheck(
      ['sum(rate(castellan_csr_total[5m])', 'rate(castellan_agents)'],
      'groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up ==\n    annotations: {summary: "{{ $labels.x "}\n',
    );
    expect(r.exprs[0]!.error).toMatch(/unclosed left parenthesis/);
    expect(r.exprs[1]!.error).toMatch(/expected type range vector/);
    expect(r.ruleErrors.length).toBeGreaterThanOrEqual(1);
  });

  it('ok/every label matcher names a label the metric has; every equality matcher a value it exports', async () => {
    const r = await promqlCheck(kitExprs.map((e) => e.expr));
    const scrapedBy = (metric: string) => [...caMetrics.find(metric), ...agentMetrics.find(metric)];
    const problems: string[] = [];
    r.exprs.forEach((x, i) => {
      for (const s of x.selectors) {
        if (PROMETHEUS_SERIES.has(s.metric)) continue;
        const samples = scrapedBy(s.metric);
        for (const m of s.matchers) {
          if (m.label === 'job' || m.label === 'instance') continue; // added by the scrape
          if (!samples.some((x2) => m.label in x2.labels)) problems.push(`${kitExprs[i]!.where}: ${s.metric} has no label ${m.label}`);
          else if (m.op === '=' && !samples.some((x2) => x2.labels[m.label] === m.value))
            problems.push(`${kitExprs[i]!.where}: ${s.metric}{${m.label}="${m.value}"} is never exported`);
        }
      }
    });
    expect(problems).toEqual([]);
  });

  it('ok/the fallback extractor finds the same metric names as the parser on every expression of the kit', async () => {
    const r = await promqlCheck(kitExprs.map((e) => e.expr));
    r.exprs.forEach((x, i) => expect(promqlMetricNames(kitExprs[i]!.expr), kitExprs[i]!.where).toEqual([...new Set(x.selectors.map((s) => s.metric))].sort()));
  });
});
