import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { type AsyncSandbox, removeAsyncEntry, startAsync } from "../sandbox/async-helpers.js";
import { launchChromium, noChromium } from "./chromium.js";

describe.skipIf(noChromium("async chat page in Chromium"))(
  "async sandbox chat page in Chromium",
  () => {
    let browser: Browser;
    let sandbox: AsyncSandbox;

    beforeAll(async () => {
      [browser, sandbox] = await Promise.all([launchChromium(), startAsync([])]);
    });
    afterAll(async () => {
      await Promise.all([browser?.close(), sandbox?.stop()]);
      removeAsyncEntry();
    });

    it("a message sent from the page is broadcast to the page and to another WebSocket client", async () => {
      const other = new WebSocket(`ws://127.0.0.1:${sandbox.port}/ws`);
      const received: string[] = [];
      other.on("message", (data) => received.push(String(data)));
      await new Promise<void>((resolve, reject) => {
        other.once("open", () => resolve());
        other.once("error", reject);
      });

      const page = await browser.newPage();
      try {
        await page.goto(`http://127.0.0.1:${sandbox.port}/`);
        await expect
          .poll(() => page.textContent("#status"), { timeout: 5000 })
          .toMatch(/^Connected to ws:\/\//);
        await page.fill("#text", "hello from the page <b>bold?</b>");
        await expect(page.isChecked("#all")).resolves.toBe(true);
        await page.click("button[type=submit]");

        const log = () => page.locator("#log li").allTextContents();
        const line = "broadcast hello from the page <b>bold?</b>";
        await expect.poll(log, { timeout: 5000 }).toContain(line);
        await expect.poll(() => received, { timeout: 5000 }).toContain(line);
        // Shown as text: the message's markup did not become an element.
        await expect(page.locator("#log b").count()).resolves.toBe(0);

        // Without "to everyone" the server answers the page alone.
        await page.uncheck("#all");
        await page.fill("#text", "just me");
        await page.click("button[type=submit]");
        await expect.poll(log, { timeout: 5000 }).toContain("echo just me");
        other.send("all:from the ws client");
        await expect.poll(log, { timeout: 5000 }).toContain("broadcast from the ws client");
        expect(received.filter((m) => m.includes("just me"))).toEqual([]);
      } finally {
        other.terminate();
        await page.close();
      }
    });
  },
);
