// Builds the web console (docs/console.md) into dist/ui, which the daemon serves at /ui. No inline
// script or style is emitted (the console's Content-Security-Policy allows 'self' only), and
// everything is bundled: the page loads nothing from anywhere but the daemon.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/ui/',
  logLevel: 'warn',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: fileURLToPath(new URL('../../dist/ui', import.meta.url)),
    emptyOutDir: true,
    // No inlined assets (data: URLs) and no module-preload polyfill (an inline script otherwise).
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    target: 'es2022',
    sourcemap: false,
  },
});
