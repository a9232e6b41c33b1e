// Reads Prometheus text exposition with the reference parser of Prometheus's official Python client
// (Debian's python3-prometheus-client; .ci/run installs it), so a test checks what a real scraper reads.
import { execFile } from 'node:child_process';

export interface PrometheusSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface PrometheusFamily {
  /** As the parser names it: a counter's family drops the `_total` its samples carry. */
  name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped' | string;
  samples: PrometheusSample[];
}

const PARSE = `
import json, math, sys
from prometheus_client.parser import text_string_to_metric_families
families = [
    {"name": f.name, "type": f.type,
     "samples": [{"name": s.name, "labels": s.labels, "value": s.value if math.isfinite(s.value) else str(s.value)} for s in f.samples]}
    for f in text_string_to_metric_families(sys.stdin.read())
]
json.dump(families, sys.stdout)
`;

export function parsePrometheusText(text: string): Promise<PrometheusFamily[]> {
  return new Promise((resolve, reject) => {
    const child = execFile('/usr/bin/python3', ['-c', PARSE], { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`the Prometheus parser refused the text: ${stderr || err.message}`));
      else resolve(JSON.parse(stdout) as PrometheusFamily[]);
    });
    child.stdin!.end(text);
  });
}

/** Every sample of every family, for lookups by sample name and labels. */
export function samples(families: PrometheusFamily[]): PrometheusSample[] {
  return families.flatMap((family) => family.samples);
}
