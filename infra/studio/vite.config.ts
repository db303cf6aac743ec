import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The gateway serves the built app at /studio/ and the API at /api on the
// same origin. For `vite` and `vite preview`, NOCODE_API points the /api
// proxy at a running gateway (default: http://127.0.0.1:8080).
const api = process.env.NOCODE_API ?? 'http://127.0.0.1:8080';
const proxy = { '/api': { target: api, changeOrigin: false } };

export default defineConfig({
  base: '/studio/',
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false },
  server: { proxy },
  preview: { proxy },
});
