import protobuf from 'protobufjs';

/**
 * The part of Envoy's protos the agent uses, as a protobufjs JSON descriptor: the messages, enums and
 * services reachable from a few named ones, and nothing else. Envoy's files declare far more than SDS
 * needs (`sds.proto` imports core/v3 base, address, config source ...), and every field carries its
 * `validate` and `udpa` annotations; a root built from this descriptor encodes and decodes the same
 * bytes (field numbers, types, labels, editions and built-in options such as `packed` are kept) with a
 * fraction of the memory an agent would otherwise hold for its whole life.
 */

type Json = { [key: string]: unknown };

/** The outermost message (or the enum, or the service) that declares `obj`: the unit a descriptor copies. */
function declarationOf(obj: protobuf.ReflectionObject): protobuf.ReflectionObject {
  let top = obj;
  while (top.parent instanceof protobuf.Type) top = top.parent;
  return top;
}

/** Every message, enum and service `obj` and its nested declarations refer to. */
function referencesOf(obj: protobuf.ReflectionObject): protobuf.ReflectionObject[] {
  if (obj instanceof protobuf.Service) {
    return obj.methodsArray.flatMap((m) => {
      m.resolve();
      return [m.resolvedRequestType, m.resolvedResponseType].filter((t): t is protobuf.Type => t !== null);
    });
  }
  if (!(obj instanceof protobuf.Type)) return [];
  const out: protobuf.ReflectionObject[] = [];
  for (const f of obj.fieldsArray) {
    f.resolve();
    if (f.resolvedType) out.push(f.resolvedType);
  }
  for (const nested of obj.nestedArray) out.push(nested, ...referencesOf(nested));
  return out;
}

/**
 * `options` without the custom ones (`(validate.rules)...`, `(udpa.annotations...)`): those describe
 * validation and versioning for code generators and change nothing on the wire.
 */
function withoutCustomOptions(json: unknown): unknown {
  if (Array.isArray(json)) return json.map(withoutCustomOptions);
  if (json === null || typeof json !== 'object') return json;
  const out: Json = {};
  for (const [key, value] of Object.entries(json)) {
    if (key === 'options') {
      const kept = Object.fromEntries(Object.entries(value as Json).filter(([name]) => !name.startsWith('(')));
      if (Object.keys(kept).length > 0) out[key] = kept;
    } else out[key] = withoutCustomOptions(value);
  }
  return out;
}

/**
 * The JSON descriptor of the declarations named in `names` (full names, no leading dot) and of every
 * declaration they refer to, directly or not, laid out by package as `Root.fromJSON` reads it.
 *
 * @example
 *   const json = descriptorClosure(root, ['envoy.service.secret.v3.SecretDiscoveryService']);
 *   const small = protobuf.Root.fromJSON(json);
 */
export function descriptorClosure(root: protobuf.Root, names: readonly string[]): protobuf.INamespace {
  const kept = new Set<protobuf.ReflectionObject>();
  const todo = names.map((n) => declarationOf(root.lookup(n) ?? throwMissing(n)));
  for (let obj = todo.pop(); obj; obj = todo.pop()) {
    if (kept.has(obj)) continue;
    kept.add(obj);
    for (const ref of referencesOf(obj)) {
      const top = declarationOf(ref);
      if (!kept.has(top)) todo.push(top);
    }
  }
  const out: Json = {};
  // In full-name order, so the descriptor is the same whatever order the files were loaded in.
  for (const obj of [...kept].sort((a, b) => (a.fullName < b.fullName ? -1 : a.fullName > b.fullName ? 1 : 0))) {
    const path = obj.fullName.replace(/^\./, '').split('.');
    let ns = out;
    for (const part of path.slice(0, -1)) {
      const nested = nestedOf(ns);
      nested[part] ??= {};
      ns = nested[part] as Json;
    }
    nestedOf(ns)[path.at(-1)!] = withoutCustomOptions(obj.toJSON());
  }
  return out as protobuf.INamespace;
}

/** A namespace's `nested` map, made empty when it has none yet. */
function nestedOf(ns: Json): Json {
  ns.nested ??= {};
  return ns.nested as Json;
}

function throwMissing(name: string): never {
  throw new Error(`sds: ${name} is not in the loaded protos`);
}

/**
 * The same descriptor with lowerCamelCase field and oneof names, as the `.proto` parser names them
 * when `keepCase` is off (what @grpc/proto-loader's objects use). `google.protobuf` keeps its names:
 * protobufjs never parses those files but takes its bundled definitions (`Any.type_url` either way).
 *
 * @example protobuf.Root.fromJSON(camelCaseDescriptor(json)).lookupType('...DiscoveryRequest').fields.versionInfo
 */
export function camelCaseDescriptor(json: protobuf.INamespace): protobuf.INamespace {
  const camel = (s: string) => protobuf.util.camelCase(s);
  const walk = (node: Json, fullName: string): Json => {
    if (fullName === 'google.protobuf') return node;
    const out: Json = { ...node };
    if (node.fields) out.fields = Object.fromEntries(Object.entries(node.fields as Json).map(([name, f]) => [camel(name), f]));
    if (node.oneofs) {
      out.oneofs = Object.fromEntries(Object.entries(node.oneofs as Record<string, Json>).map(([name, o]) => [camel(name), { ...o, oneof: (o.oneof as string[]).map(camel) }]));
    }
    if (node.nested) {
      out.nested = Object.fromEntries(Object.entries(node.nested as Record<string, Json>).map(([name, n]) => [name, walk(n, fullName ? `${fullName}.${name}` : name)]));
    }
    return out;
  };
  return walk(json as Json, '') as protobuf.INamespace;
}
