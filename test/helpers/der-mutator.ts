import fc from 'fast-check';

/**
 * Structure-aware mutations of DER (X.690) for fuzzing: a valid encoding is read into a tree of TLVs,
 * changed as a tree (remove, duplicate, insert, retag, re-content an element), written back with
 * consistent lengths, then optionally damaged byte-wise (bit flips, truncation, length-field edits).
 * Tree edits keep every outer length right, so the damage reaches deep fields instead of being
 * refused at the first length check.
 */

/** One TLV of the tree: constructed (children) or primitive (content). */
export interface DerNode {
  tag: number;
  children?: DerNode[];
  content?: Uint8Array;
  /** Children found inside an OCTET STRING or BIT STRING value (extension values, ECDSA signatures). */
  encapsulated?: { prefix: Uint8Array; children: DerNode[] };
}

function readLength(b: Uint8Array, at: number): { len: number; next: number } | undefined {
  const first = b[at];
  if (first === undefined) return undefined;
  if (first < 0x80) return { len: first, next: at + 1 };
  const n = first & 0x7f;
  if (n === 0 || n > 4 || at + 1 + n > b.length) return undefined;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + b[at + 1 + i]!;
  return { len, next: at + 1 + n };
}

/** Reads a sequence of TLVs filling `b` exactly, or undefined (test-side reader, only for valid input). */
function readAll(b: Uint8Array, depth: number): DerNode[] | undefined {
  const out: DerNode[] = [];
  let at = 0;
  while (at < b.length) {
    const tag = b[at]!;
    if ((tag & 0x1f) === 0x1f) return undefined;
    const l = readLength(b, at + 1);
    if (!l || l.next + l.len > b.length) return undefined;
    const value = b.subarray(l.next, l.next + l.len);
    const node = readNode(tag, value, depth);
    if (!node) return undefined;
    out.push(node);
    at = l.next + l.len;
  }
  return out;
}

function readNode(tag: number, value: Uint8Array, depth: number): DerNode | undefined {
  if (tag & 0x20) {
    const children = readAll(value, depth + 1);
    return children ? { tag, children } : undefined;
  }
  const node: DerNode = { tag, content: value };
  // Look inside OCTET STRING / BIT STRING values that hold DER themselves (RFC 5280 extnValue, the
  // ECDSA-Sig-Value of a signature), so mutations reach a SAN or a signature's INTEGERs too.
  if (depth < 12 && (tag === 0x04 || tag === 0x03) && value.length >= 2) {
    const prefix = tag === 0x03 ? value.subarray(0, 1) : value.subarray(0, 0);
    const inner = value.subarray(prefix.length);
    if (inner[0] === 0x30 || inner[0] === 0x03 || inner[0] === 0x02 || inner[0] === 0x01) {
      const children = readAll(inner, depth + 1);
      if (children && children.length > 0) node.encapsulated = { prefix, children };
    }
  }
  return node;
}

/** The tree of a DER encoding (throws on input that is not DER: only valid encodings are mutated). */
export function parseDerTree(der: Uint8Array): DerNode {
  const nodes = readAll(der, 0);
  if (nodes?.length !== 1) throw new TypeError('der-mutator: input is not one DER element');
  return nodes[0]!;
}

function lengthOctets(len: number): number[] {
  if (len < 0x80) return [len];
  const out: number[] = [];
  for (let n = len; n > 0; n = Math.floor(n / 256)) out.unshift(n & 0xff);
  return [0x80 | out.length, ...out];
}

/** The DER of a tree, with every length recomputed. */
export function encodeDerTree(node: DerNode): Buffer {
  let value: Buffer;
  if (node.children) value = Buffer.concat(node.children.map(encodeDerTree));
  else if (node.encapsulated) value = Buffer.concat([node.encapsulated.prefix, ...node.encapsulated.children.map(encodeDerTree)]);
  else value = Buffer.from(node.content ?? new Uint8Array(0));
  return Buffer.concat([Buffer.from([node.tag, ...lengthOctets(value.length)]), value]);
}

function clone(node: DerNode): DerNode {
  return {
    tag: node.tag,
    ...(node.children ? { children: node.children.map(clone) } : {}),
    ...(node.content ? { content: Uint8Array.from(node.content) } : {}),
    ...(node.encapsulated ? { encapsulated: { prefix: Uint8Array.from(node.encapsulated.prefix), children: node.encapsulated.children.map(clone) } } : {}),
  };
}

/** Every node with the list that holds it (the root has none), in document order. */
function flatten(root: DerNode): { node: DerNode; siblings?: DerNode[] }[] {
  const out: { node: DerNode; siblings?: DerNode[] }[] = [{ node: root }];
  const walk = (list: DerNode[]) => {
    for (const n of list) {
      out.push({ node: n, siblings: list });
      if (n.children) walk(n.children);
      if (n.encapsulated) walk(n.encapsulated.children);
    }
  };
  if (root.children) walk(root.children);
  if (root.encapsulated) walk(root.encapsulated.children);
  return out;
}

/** A tree edit; numbers pick a node, a position or a value modulo what exists, so any value applies. */
export type TreeEdit =
  | { op: 'remove'; at: number }
  | { op: 'duplicate'; at: number }
  | { op: 'swap'; at: number; with: number }
  | { op: 'retag'; at: number; tag: number }
  | { op: 'insert'; at: number; tag: number; content: Uint8Array }
  | { op: 'splice'; at: number; from: number }
  | { op: 'content'; at: number; content: Uint8Array }
  | { op: 'flip'; at: number; bit: number }
  | { op: 'integer'; at: number; kind: 'zero' | 'negative' | 'pad' | 'huge' | 'empty' }
  | { op: 'unwrap'; at: number };

/** A byte-level edit of the final encoding. */
export type ByteEdit =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'set'; at: number; value: number }
  | { op: 'truncate'; at: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; count: number }
  | { op: 'length'; at: number; kind: 'plus' | 'minus' | 'zero' | 'indefinite' | 'long-non-minimal' | 'huge' | 'too-many-octets' | 'random'; value: number };

export interface DerMutation {
  readonly tree: readonly TreeEdit[];
  readonly bytes: readonly ByteEdit[];
}

const index = fc.nat({ max: 1 << 16 });
const someBytes = fc.uint8Array({ maxLength: 48 });
/** Tags seen in certificates plus arbitrary ones (context-specific, high-tag-number form, ...). */
const tag = fc.oneof(fc.constantFrom(0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0c, 0x13, 0x16, 0x30, 0x31, 0xa0, 0x80, 0x82, 0x86, 0x1f, 0x3f), fc.nat({ max: 255 }));

const treeEdit: fc.Arbitrary<TreeEdit> = fc.oneof(
  fc.record({ op: fc.constant('remove' as const), at: index }),
  fc.record({ op: fc.constant('duplicate' as const), at: index }),
  fc.record({ op: fc.constant('swap' as const), at: index, with: index }),
  fc.record({ op: fc.constant('retag' as const), at: index, tag }),
  fc.record({ op: fc.constant('insert' as const), at: index, tag, content: someBytes }),
  fc.record({ op: fc.constant('splice' as const), at: index, from: index }),
  fc.record({ op: fc.constant('content' as const), at: index, content: someBytes }),
  fc.record({ op: fc.constant('flip' as const), at: index, bit: fc.nat({ max: 1 << 20 }) }),
  fc.record({ op: fc.constant('integer' as const), at: index, kind: fc.constantFrom('zero' as const, 'negative' as const, 'pad' as const, 'huge' as const, 'empty' as const) }),
  fc.record({ op: fc.constant('unwrap' as const), at: index }),
);

const byteEdit: fc.Arbitrary<ByteEdit> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: index, bit: fc.nat({ max: 7 }) }),
  fc.record({ op: fc.constant('set' as const), at: index, value: fc.nat({ max: 255 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: index }),
  fc.record({ op: fc.constant('insert' as const), at: index, bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ op: fc.constant('delete' as const), at: index, count: fc.integer({ min: 1, max: 16 }) }),
  fc.record({
    op: fc.constant('length' as const),
    at: index,
    kind: fc.constantFrom(
      'plus' as const,
      'minus' as const,
      'zero' as const,
      'indefinite' as const,
      'long-non-minimal' as const,
      'huge' as const,
      'too-many-octets' as const,
      'random' as const,
    ),
    value: fc.nat({ max: 0xffffffff }),
  }),
);

/** Mutations: 0–3 tree edits then 0–2 byte edits, at least one edit in all. */
export const derMutation: fc.Arbitrary<DerMutation> = fc
  .record({ tree: fc.array(treeEdit, { maxLength: 3 }), bytes: fc.array(byteEdit, { maxLength: 2 }) })
  .filter((m) => m.tree.length + m.bytes.length > 0);

function applyTreeEdit(root: DerNode, e: TreeEdit): void {
  const nodes = flatten(root);
  const pick = nodes[e.at % nodes.length]!;
  const { node, siblings } = pick;
  const position = siblings ? siblings.indexOf(node) : -1;
  switch (e.op) {
    case 'remove':
      if (siblings) siblings.splice(position, 1);
      return;
    case 'duplicate':
      if (siblings) siblings.splice(position, 0, clone(node));
      return;
    case 'swap': {
      if (!siblings) return;
      const other = ((e.with % siblings.length) + siblings.length) % siblings.length;
      [siblings[position], siblings[other]] = [siblings[other]!, siblings[position]!];
      return;
    }
    case 'retag':
      node.tag = e.tag;
      // A tag that says "constructed" on a primitive (or the reverse) is kept as it is: that is the point.
      return;
    case 'insert': {
      const list = node.children ?? node.encapsulated?.children ?? siblings;
      if (list) list.splice(e.at % (list.length + 1), 0, { tag: e.tag & ~0x20, content: e.content });
      return;
    }
    case 'splice': {
      const donor = nodes[e.from % nodes.length]!.node;
      if (donor === root || !siblings) return;
      siblings.splice(position, 1, clone(donor));
      return;
    }
    case 'content':
      delete node.children;
      delete node.encapsulated;
      node.content = e.content;
      return;
    case 'flip': {
      const bytes = encodeValue(node);
      if (bytes.length === 0) return;
      const bit = e.bit % (bytes.length * 8);
      bytes[bit >> 3]! ^= 1 << (bit & 7);
      delete node.children;
      delete node.encapsulated;
      node.content = bytes;
      return;
    }
    case 'integer': {
      const old = node.content ?? new Uint8Array(0);
      const content = {
        zero: Uint8Array.of(0),
        negative: Uint8Array.of(0xff, ...old.subarray(1)),
        pad: Uint8Array.of(0, 0, ...old),
        huge: new Uint8Array(600).fill(0x7f),
        empty: new Uint8Array(0),
      }[e.kind];
      delete node.children;
      delete node.encapsulated;
      node.content = content;
      return;
    }
    case 'unwrap': {
      // Replace an element by its children: a SEQUENCE flattened into its parent.
      const inner = node.children ?? node.encapsulated?.children;
      if (siblings && inner) siblings.splice(position, 1, ...inner);
      return;
    }
  }
}

function encodeValue(node: DerNode): Uint8Array {
  const whole = encodeDerTree(node);
  const l = readLength(whole, 1)!;
  return Uint8Array.from(whole.subarray(l.next));
}

/** Offsets of every TLV header in `der` (for length-field edits), from a lenient walk. */
function headerOffsets(der: Uint8Array): number[] {
  const out: number[] = [];
  const walk = (from: number, to: number, depth: number) => {
    let at = from;
    while (at < to && depth < 32) {
      out.push(at);
      const l = readLength(der, at + 1);
      if (!l || l.next + l.len > to) return;
      if (der[at]! & 0x20) walk(l.next, l.next + l.len, depth + 1);
      at = l.next + l.len;
    }
  };
  walk(0, der.length, 0);
  return out;
}

function applyByteEdit(der: Buffer, e: ByteEdit): Buffer {
  if (der.length === 0) return der;
  const at = e.at % der.length;
  switch (e.op) {
    case 'flip': {
      const out = Buffer.from(der);
      out[at]! ^= 1 << e.bit;
      return out;
    }
    case 'set': {
      const out = Buffer.from(der);
      out[at] = e.value;
      return out;
    }
    case 'truncate':
      return der.subarray(0, at);
    case 'insert':
      return Buffer.concat([der.subarray(0, at), e.bytes, der.subarray(at)]);
    case 'delete':
      return Buffer.concat([der.subarray(0, at), der.subarray(at + e.count)]);
    case 'length': {
      const heads = headerOffsets(der);
      const head = heads[e.at % heads.length]!;
      const l = readLength(der, head + 1);
      if (!l) return der;
      const len = l.len;
      const octets = {
        plus: lengthOctets(len + 1 + (e.value % 4)),
        minus: lengthOctets(Math.max(0, len - 1 - (e.value % 4))),
        zero: [0],
        indefinite: [0x80],
        'long-non-minimal': [0x84, (len >>> 24) & 0xff, (len >>> 16) & 0xff, (len >>> 8) & 0xff, len & 0xff],
        huge: [0x84, (e.value >>> 24) & 0xff, (e.value >>> 16) & 0xff, (e.value >>> 8) & 0xff, e.value & 0xff],
        'too-many-octets': [0x85, 0, 0, 0, 0, len & 0xff],
        random: lengthOctets(e.value % 0x20000),
      }[e.kind];
      return Buffer.concat([der.subarray(0, head + 1), Buffer.from(octets), der.subarray(l.next)]);
    }
  }
}

/**
 * `der` with `m` applied (`der` itself is not changed).
 *
 * @example fc.assert(fc.property(derMutation, (m) => check(mutateDer(validCsr, m))));
 */
export function mutateDer(der: Uint8Array, m: DerMutation): Buffer {
  let out: Buffer;
  if (m.tree.length > 0) {
    const root = clone(parseDerTree(der));
    for (const e of m.tree) applyTreeEdit(root, e);
    out = encodeDerTree(root);
  } else {
    out = Buffer.from(der);
  }
  for (const e of m.bytes) out = applyByteEdit(out, e);
  return out;
}
