from django.urls import path, re_path

from gateway import views

urlpatterns = [
    # Proxied paths first, with one regex: anything outside the reserved ``/-/`` prefix.
    re_path(r"^(?!-/)", views.proxy),
    path("-/health/live", views.live),
    path("-/health/ready", views.ready),
    path("-/metrics", views.metrics),
    path("-/routes", views.routes),
    re_path(r"^-/", views.reserved_not_found),
]
