import { resolve } from 'node:path';
import { defineConfig } from 'vite';

// The gantry API the dev server forwards /api, /metrics and the classic IoT routes to.
const api = process.env.GANTRY_API ?? 'http://127.0.0.1:8099';
const root = import.meta.dirname;

export default defineConfig({
  base: '/',
  server: {
    proxy: {
      // Server-Sent Events (/api/stream) pass through as a long response.
      '/api': { target: api, changeOrigin: true },
      '/metrics': { target: api, changeOrigin: true },
      // the classic IoT app's routes (the IoT page publishes and reads through them)
      '/publish/': { target: api, changeOrigin: true },
      '/get_data/': { target: api, changeOrigin: true },
      '/connect/': { target: api, changeOrigin: true },
    },
  },
  preview: {
    proxy: {
      '/api': { target: api, changeOrigin: true },
      '/metrics': { target: api, changeOrigin: true },
      // the classic IoT app's routes (the IoT page publishes and reads through them)
      '/publish/': { target: api, changeOrigin: true },
      '/get_data/': { target: api, changeOrigin: true },
      '/connect/': { target: api, changeOrigin: true },
    },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // one stylesheet for all pages
    cssCodeSplit: false,
    // ECharts alone is ~0.7 MB minified; it is cached apart from the app code.
    chunkSizeWarningLimit: 900,
    rollupOptions: {
      output: {
        manualChunks(id) {
          if (/node_modules\/(echarts|zrender)\//.test(id)) return 'echarts';
          if (id.includes('node_modules/china-geojson/')) return 'china-geojson';
          return undefined;
        },
      },
      input: {
        index: resolve(root, 'index.html'),
        query: resolve(root, 'query.html'),
        trail: resolve(root, 'trail.html'),
        iot: resolve(root, 'iot.html'),
      },
    },
  },
});
