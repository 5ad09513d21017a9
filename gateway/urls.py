from django.urls import path, re_path

from gateway import views

urlpatterns = [
    path("-/health/live", views.live),
    path("-/health/ready", views.ready),
    path("-/metrics", views.metrics),
    path("-/routes", views.routes),
    re_path(r"^-/", views.reserved_not_found),
    re_path(r"", views.proxy),
]
