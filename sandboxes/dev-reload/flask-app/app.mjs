// The Flask app of this lab, written as a JavaScript module that the sandbox serves the way
// `flask --app app --debug run` serves app.py. Edit it and save: the reloader restarts the
// app process and the next request runs your new code.
//
// app.py, the Python it stands for:
//
//   import os, threading, time
//   from flask import Flask, request
//
//   app = Flask(__name__)
//   MESSAGE = "Hello, World!"
//
//   @app.route("/")
//   def index():
//       return MESSAGE
//
//   @app.route("/slow")
//   def slow():
//       ms = int(request.args.get("ms", 1000))
//       time.sleep(ms / 1000)
//       return f"slept {ms} ms\n"
//
//   @app.route("/boom")
//   def boom():
//       raise RuntimeError("boom")
//
//   @app.route("/info")
//   def info():
//       return f"pid={os.getpid()} thread={threading.current_thread().name}\n"

import { setTimeout as sleep } from "node:timers/promises";

const MESSAGE = "Hello, World!";

export const routes = {
  "/": () => MESSAGE,

  // A slow view: ?ms= milliseconds (1000 by default).
  "/slow": async (request) => {
    const ms = Math.min(Math.max(Number(request.query.ms ?? 1000) || 0, 0), 60000);
    await sleep(ms);
    return `slept ${ms} ms\n`;
  },

  // An exception in a view: the debugger page.
  "/boom": () => {
    throw new Error("boom");
  },

  // Which process and thread answered: the pid changes after every reload.
  "/info": (request) => `pid=${request.pid} thread=${request.thread}\n`,
};
