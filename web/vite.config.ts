// Builds the console into the server's static folder; the server serves it at / and /static.
import { defineConfig } from "vite";

export default defineConfig({
  base: "/static/",
  build: {
    outDir: "../server/console/static",
    emptyOutDir: true,
    target: "es2020",
    sourcemap: false,
    chunkSizeWarningLimit: 450, // Leaflet, Chart.js and supercluster in one chunk: ~410 kB
    reportCompressedSize: false,
  },
  test: {
    environment: "node",
    include: ["src/**/*.test.ts"],
  },
} as any);
