// The layering of docs/architecture.md §1, checked by `npm run deps` (part of `npm test`):
// workload-identity, proto-types <- ca, sds <- cli; ca and sds never import each other; no cycles. The rule that a
// folder is entered only through its index.ts is checked by scripts/check-dependencies.mjs.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      // Generated types of recursive messages (google.protobuf.Struct <-> Value) import each other; type-only, erased at run time.
      comment: 'import cycles make load order matter',
      from: { pathNot: '^proto-types/generated/' },
      to: { circular: true },
    },
    {
      name: 'workload-identity-is-the-base',
      severity: 'error',
      comment: 'workload-identity holds the values every folder speaks: it imports no other folder of ours',
      from: { path: '^workload-identity/' },
      to: { path: '^(proto-types|ca|sds|cli)/' },
    },
    {
      name: 'proto-types-is-a-base',
      severity: 'error',
      comment: 'proto-types holds the types generated from the .proto files: it imports no other folder of ours',
      from: { path: '^proto-types/' },
      to: { path: '^(workload-identity|ca|sds|cli)/' },
    },
    { name: 'ca-not-sds', severity: 'error', comment: 'the CA and the agent are separate programs: ca never imports sds', from: { path: '^ca/' }, to: { path: '^(sds|cli)/' } },
    { name: 'sds-not-ca', severity: 'error', comment: 'the agent never imports the CA (it shares only workload-identity and the .proto files)', from: { path: '^sds/' }, to: { path: '^(ca|cli)/' } },
    { name: 'nothing-imports-tests', severity: 'error', from: { path: '^(workload-identity|proto-types|ca|sds|cli)/' }, to: { path: '^(test|bench)/' } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
