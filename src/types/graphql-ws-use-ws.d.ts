// The server adapter for `ws` is a subpath export of graphql-ws, which the "node" module resolution
// of this project does not read; its declarations are re-exported here.
declare module 'graphql-ws/use/ws' {
  export * from 'graphql-ws/dist/use/ws.cjs';
}
