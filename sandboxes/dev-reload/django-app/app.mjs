// The URLconf of this lab (mysite/urls.py in Django), written as a JavaScript module that the
// sandbox serves the way `python manage.py runserver` serves a project. The views are in
// views.mjs: edit either file and save, and the reloader restarts the server process.
//
// mysite/urls.py, the Python it stands for:
//
//   from django.urls import path
//   from . import views
//
//   urlpatterns = [
//       path("", views.index),
//       path("slow", views.slow),
//       path("boom", views.boom),
//       path("info/", views.info),
//   ]

import * as views from "./views.mjs";

export const routes = {
  "/": views.index,
  "/slow": views.slow,
  "/boom": views.boom,
  "/info/": views.info,
};
