import { defaultClientConditions, defineConfig } from 'vite';

/**
 * `base: './'` makes every asset URL relative, so one build works at "/" and under any sub path:
 * nginx rewrites `<base href>` at run time (see nginx/default.conf.template).
 * The `development` condition makes Vite compile the TypeScript source of @llamaproxy/shared.
 */
export default defineConfig({
  base: './',
  resolve: { conditions: ['development', ...defaultClientConditions] },
  build: {
    target: 'es2022',
    sourcemap: true,
    modulePreload: { polyfill: false },
    rollupOptions: {
      output: {
        // The shared contracts with zod: one chunk for the lazy pages that validate with them.
        manualChunks: (id) => (/\/shared\/src\/|\/node_modules\/zod\//.test(id) ? 'contracts' : undefined),
      },
      onwarn(warning, warn) {
        // zod ships comments Rollup cannot place; harmless.
        if (warning.code === 'INVALID_ANNOTATION' && warning.id?.includes('/zod/')) {
          return;
        }
        warn(warning);
      },
    },
  },
  server: {
    proxy: {
      // Host is kept (no changeOrigin), so the gateway's Origin check sees the dashboard's own host.
      '/llamaproxws': { target: process.env.GATEWAY_URL ?? 'http://localhost:3000', ws: true },
      // With the slash: the page /api-keys is the SPA's, not the gateway's (as in nginx's `location /api/`).
      '/api/': { target: process.env.GATEWAY_URL ?? 'http://localhost:3000' },
      // The OpenAI-compatible endpoint on the dashboard's URL, as nginx serves it in the stack.
      '/v1/': { target: process.env.GATEWAY_URL ?? 'http://localhost:3000' },
    },
  },
});
