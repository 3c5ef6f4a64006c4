// The views of this lab (mysite/views.py in Django). Edit and save: the reloader notices.
//
// mysite/views.py, the Python it stands for:
//
//   import os, threading, time
//   from django.http import HttpResponse
//
//   MESSAGE = "Hello, World!"
//
//   def index(request):
//       return HttpResponse(MESSAGE)
//
//   def slow(request):
//       ms = int(request.GET.get("ms", 1000))
//       time.sleep(ms / 1000)
//       return HttpResponse(f"slept {ms} ms\n")
//
//   def boom(request):
//       raise RuntimeError("boom")
//
//   def info(request):
//       return HttpResponse(f"pid={os.getpid()} thread={threading.current_thread().name}\n")

import { setTimeout as sleep } from "node:timers/promises";

const MESSAGE = "Hello, World!";

export function index(_request) {
  return MESSAGE;
}

// A slow view: ?ms= milliseconds (1000 by default).
export async function slow(request) {
  const ms = Math.min(Math.max(Number(request.query.ms ?? 1000) || 0, 0), 60000);
  await sleep(ms);
  return `slept ${ms} ms\n`;
}

// An exception in a view: Django's technical 500 page.
export function boom(_request) {
  throw new Error("boom");
}

// Which process and thread answered: the pid changes after every reload.
export function info(request) {
  return `pid=${request.pid} thread=${request.thread}\n`;
}
