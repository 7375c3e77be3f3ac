// Vite build and Vitest settings for the Atelier browser UI.
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

export default defineConfig({
  plugins: [react()],
  server: {
    // `npm run dev` talks to a local `atelier serve` (HTTP and the event socket).
    proxy: { '/api': { target: 'http://127.0.0.1:9191', ws: true } },
  },
  test: {
    environment: 'jsdom',
    globals: true,
    include: ['src/**/*.test.{ts,tsx}'],
    setupFiles: ['src/test-setup.ts'],
  },
});
