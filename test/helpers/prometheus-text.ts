/** One sample of a Prometheus text exposition. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** A scraped `/metrics` page: the metric families it declares (`# TYPE`) and every sample. */
export interface Exposition {
  /** Family name → type (`counter`, `gauge`, `histogram`, `summary`, `untyped`). */
  readonly types: ReadonlyMap<string, string>;
  readonly samples: readonly Sample[];
  /**
   * Every series name a PromQL selector can use: the samples' names, plus those of each declared family
   * even without series yet (`x_bucket`, `x_sum`, `x_count` for a histogram `x`; never the bare `x`).
   */
  readonly names: ReadonlySet<string>;
  /** The samples named `name` whose labels include `labels`. */
  find(name: string, labels?: Record<string, string>): Sample[];
}

/**
 * Parses the Prometheus text format 0.0.4 (what prom-client serves): `# TYPE` lines and samples
 * `name{a="b",c="d"} value`. Label values may hold escaped quotes, backslashes and newlines.
 *
 * @example parsePrometheusText(await (await fetch(`${base}/metrics`)).text()).find('castellan_csr_total', { outcome: 'issued' })
 */
export function parsePrometheusText(text: string): Exposition {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('# TYPE ')) {
      const [name, type] = line.slice(7).split(' ');
      types.set(name!, type!);
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line);
    if (!m) throw new Error(`prometheus text: cannot parse ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/gy;
    for (let l = re.exec(m[2] ?? ''); l; l = re.exec(m[2] ?? '')) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  const names = new Set<string>(samples.map((s) => s.name));
  for (const [family, type] of types) {
    const series = type === 'histogram' ? ['_bucket', '_sum', '_count'] : type === 'summary' ? ['', '_sum', '_count'] : [''];
    for (const suffix of series) names.add(family + suffix);
  }
  return {
    types,
    samples,
    names,
    find: (name, want = {}) => samples.filter((s) => s.name === name && Object.entries(want).every(([k, v]) => s.labels[k] === v)),
  };
}
