"""``/hello``: Django's own ceiling. ``/naive/...``: a naive proxy, httpx defaults."""

import os

import httpx
from django.http import HttpResponse
from django.urls import re_path

BODY = b'{"status":"ok","message":"hello from the bench","items":[1,2,3,4,5,6,7,8,9,10],"padding":"' + b"x" * 96 + b'"}'
UPSTREAM = os.environ.get("BENCH_UPSTREAM", "http://127.0.0.1:9")
_client: httpx.AsyncClient | None = None


async def hello(request):
    return HttpResponse(BODY, content_type="application/json")


async def naive_proxy(request):
    global _client
    if _client is None:
        _client = httpx.AsyncClient()
    upstream = await _client.get(UPSTREAM + request.path)
    return HttpResponse(upstream.content, status=upstream.status_code,
                        content_type=upstream.headers.get("content-type"))


urlpatterns = [re_path(r"^hello", hello), re_path(r"", naive_proxy)]
