/// <reference types="vitest/config" />
// The web app's build: Vue 3, Vant on the phone pages and Element Plus on the desk, each
// imported per component (unplugin-vue-components) so the report page never loads the desk's
// library; assets precompressed (brotli, gzip) for the gateway to serve as they are.
import { fileURLToPath, URL } from 'node:url'
import vue from '@vitejs/plugin-vue'
import { VantResolver } from '@vant/auto-import-resolver'
import Components from 'unplugin-vue-components/vite'
import { ElementPlusResolver } from 'unplugin-vue-components/resolvers'
import { compression, defineAlgorithm } from 'vite-plugin-compression2'
import { defineConfig, type Plugin } from 'vite'

// `npm run dev` forwards what the gateway serves on one origin (`make up` runs it on 8080).
const gateway = process.env.SHOUWANG_GATEWAY ?? 'http://127.0.0.1:8080'

// Vant's icon font names a woff on Alibaba's CDN after its inline woff2. Nothing of ours loads
// from a third party: the CSP refused it with an error on every page; now it is never named.
const noRemoteFonts: Plugin = {
  name: 'shouwang-no-remote-fonts',
  enforce: 'pre',
  transform(code, id) {
    if (!/\/vant\/.*\.css$/.test(id.split('?')[0] ?? '')) return null
    return { code: code.replace(/,\s*url\((?:https?:)?\/\/[^)]*\)\s*format\("woff"\)/g, ''), map: null }
  },
}

export default defineConfig({
  plugins: [
    noRemoteFonts,
    vue(),
    Components({
      dts: false,
      resolvers: [VantResolver(), ElementPlusResolver({ importStyle: 'css' })],
    }),
    compression({
      algorithms: [defineAlgorithm('brotliCompress'), defineAlgorithm('gzip')],
      include: /\.(js|css|html|svg|json)$/,
      threshold: 512,
    }),
  ],
  resolve: {
    alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) },
  },
  build: {
    target: 'es2020',
    manifest: true,
    sourcemap: false,
    chunkSizeWarningLimit: 1200,
  },
  server: {
    proxy: {
      '/api': gateway,
      '/auth': gateway,
      '/ack': gateway,
    },
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.ts'],
    setupFiles: ['src/test-setup.ts'],
    // Desk components import Element Plus' per-component CSS: let Vite, not Node, load it.
    server: { deps: { inline: ['element-plus'] } },
  },
})
