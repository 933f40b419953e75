// The wallboard page (src/wallboard/) → dist/wallboard/, which the API serves at /wallboard
// (src/api/wallboard.ts). Plain TypeScript, no framework; everything it needs is in the build,
// nothing comes from a CDN. The manifest marks a finished build for the API.
import { fileURLToPath, URL } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('./src/wallboard/', import.meta.url)),
  base: '/wallboard/',
  publicDir: 'public',
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('./dist/wallboard/', import.meta.url)),
    emptyOutDir: true,
    manifest: true,
    target: 'es2022',
    // No data: URIs and no inline script: the page's CSP allows files from 'self' only.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
  },
});
