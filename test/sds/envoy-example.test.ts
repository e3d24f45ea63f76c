import { readFileSync } from 'node:fs';
import path from 'node:path';
import protobuf from 'protobufjs';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';

const deps = path.resolve('node_modules/@grpc/grpc-js-xds/deps');
// descriptor.proto (imported by validate.proto) ships with protobufjs; the other google/protobuf/* are built in.
const includes = [...['envoy-api', 'xds', 'protoc-gen-validate', 'googleapis'].map((d) => path.join(deps, d)), path.resolve('node_modules/protobufjs')];

/** protobufjs with Envoy's include dirs (google/protobuf/* come with protobufjs itself). */
function envoyRoot(files: string[]): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => {
    if (/^google\/protobuf\/(any|duration|timestamp|wrappers|struct|empty|field_mask)\.proto$/.test(target)) return target;
    for (const dir of includes) {
      const p = path.join(dir, target);
      try {
        readFileSync(p);
        return p;
      } catch {
        // next include dir
      }
    }
    return target;
  };
  root.loadSync(files, { keepCase: true });
  return root;
}

/**
 * Walks a YAML document against a message type: every key must be a field (snake_case, as Envoy's
 * YAML is), every enum value defined, every Any's @type loaded and walked in turn. Map fields are
 * checked by value type. Returns the problems found.
 */
function check(root: protobuf.Root, type: protobuf.Type, value: unknown, at: string, problems: string[]): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    problems.push(`${at}: want an object for ${type.fullName}`);
    return;
  }
  let t = type;
  const obj = value as Record<string, unknown>;
  if (type.fullName === '.google.protobuf.Any') {
    const url = String(obj['@type'] ?? '');
    const name = url.replace(/^type\.googleapis\.com\//, '');
    try {
      t = root.lookupType(name);
    } catch {
      problems.push(`${at}: unknown @type ${url}`);
      return;
    }
  }
  for (const [k, v] of Object.entries(obj)) {
    if (k === '@type') continue;
    const field = t.fields[k];
    if (!field) {
      problems.push(`${at}.${k}: no such field in ${t.fullName}`);
      continue;
    }
    field.resolve();
    const items = field.repeated ? (Array.isArray(v) ? v : [v]) : [v];
    if (field.repeated && !Array.isArray(v)) problems.push(`${at}.${k}: want a list`);
    for (const [i, item] of items.entries()) {
      const where = field.repeated ? `${at}.${k}[${i}]` : `${at}.${k}`;
      if (field.map && field.resolvedType instanceof protobuf.Type) {
        for (const [mk, mv] of Object.entries(item as Record<string, unknown>)) check(root, field.resolvedType, mv, `${where}.${mk}`, problems);
      } else if (field.resolvedType instanceof protobuf.Enum) {
        if (!(String(item) in field.resolvedType.values)) problems.push(`${where}: ${String(item)} is not a ${field.resolvedType.fullName}`);
      } else if (field.resolvedType instanceof protobuf.Type) {
        // Wrappers (BoolValue, UInt32Value) and Duration take scalars in YAML.
        if (/^\.google\.protobuf\.(\w+Value|Duration)$/.test(field.resolvedType.fullName) && typeof item !== 'object') continue;
        check(root, field.resolvedType, item, where, problems);
      }
    }
  }
}

describe('examples/envoy', () => {
  it('ok/the bootstrap uses only fields, enums and @types of the Envoy v3 API', () => {
    const root = envoyRoot([
      'envoy/config/bootstrap/v3/bootstrap.proto',
      'envoy/extensions/transport_sockets/tls/v3/tls.proto',
      'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
      'envoy/extensions/filters/http/router/v3/router.proto',
      'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
    ]);
    const doc = parseYaml(readFileSync('examples/envoy/envoy.yaml', 'utf8')) as unknown;
    const problems: string[] = [];
    check(root, root.lookupType('envoy.config.bootstrap.v3.Bootstrap'), doc, 'bootstrap', problems);
    expect(problems).toEqual([]);
  });

  it('fail/the checker itself catches a misspelt field and an unknown enum value', () => {
    const root = envoyRoot(['envoy/config/bootstrap/v3/bootstrap.proto', 'envoy/extensions/transport_sockets/tls/v3/tls.proto']);
    const problems: string[] = [];
    check(
      root,
      root.lookupType('envoy.extensions.transport_sockets.tls.v3.CommonTlsContext'),
      { tls_certificate_sds_secret_config: [], combined_validation_context: { default_validation_context: { match_typed_subject_alt_names: [{ san_type: 'URL' }] } } },
      'c',
      problems,
    );
    expect(problems).toHaveLength(2);
  });

  it('ok/the README names the placeholders the YAML uses', () => {
    const yaml = readFileSync('examples/envoy/envoy.yaml', 'utf8');
    const readme = readFileSync('examples/envoy/README.md', 'utf8');
    for (const p of new Set(yaml.match(/@[A-Z_]+@/g))) expect(readme).toContain(p);
    expect(yaml).toContain('name: default');
    expect(yaml).toContain('name: ROOTCA');
  });
});
