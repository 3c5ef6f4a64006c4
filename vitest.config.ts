import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.{ts,tsx}"],
    setupFiles: ["test/setup.ts"],
    testTimeout: 20000,
    hookTimeout: 20000,
    pool: "forks",
    // Most tests wait on real servers rather than compute: two files at a time keep 2 cores busy.
    maxWorkers: 2,
  },
});
