"""The URLconf of the django-runserver lesson: paths to views."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.index),
    path("slow", views.slow),
    path("boom", views.boom),
    path("info/", views.info),  # /info redirects here (APPEND_SLASH)
]
