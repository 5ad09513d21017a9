"""``POST /token``, ``GET /.well-known/jwks.json`` and ``GET /health``."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.parsers import FormParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import grants, keys, tokens

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class TokenRequest(serializers.Serializer):
    grant_type = serializers.ChoiceField(choices=list(grants.GRANTS))
    username = serializers.CharField(required=False)
    password = serializers.CharField(required=False)
    client_id = serializers.CharField(required=False)
    client_secret = serializers.CharField(required=False)
    scope = serializers.CharField(required=False, help_text="Space-separated scopes.")


class TokenResponse(serializers.Serializer):
    access_token = serializers.CharField()
    token_type = serializers.CharField()
    expires_in = serializers.IntegerField()
    scope = serializers.CharField()


class OAuthErrorBody(serializers.Serializer):
    error = serializers.CharField()
    error_description = serializers.CharField()


class TokenView(APIView):
    parser_classes = [FormParser]

    @extend_schema(
        request={"application/x-www-form-urlencoded": TokenRequest},
        responses={
            200: TokenResponse,
            400: OpenApiResponse(OAuthErrorBody, description="invalid_request, invalid_grant..."),
            401: OpenApiResponse(OAuthErrorBody, description="invalid_client"),
        },
    )
    def post(self, request: Request) -> Response:
        form = {key: str(value) for key, value in request.data.items()}
        try:
            grant = grants.run(form, request.headers.get("Authorization", ""))
        except grants.OAuthError as error:
            return _error(error)
        body = tokens.issue(grant.subject, grant.scopes, **grant.extra)
        return Response(body, headers=NO_STORE)

    def handle_exception(self, exc: Exception) -> Response:
        """A body that is not a valid form is an OAuth ``invalid_request`` too."""
        if isinstance(exc, exceptions.UnsupportedMediaType | exceptions.ParseError):
            error = grants.InvalidRequest("the body must be application/x-www-form-urlencoded")
            return _error(error)
        return super().handle_exception(exc)


def _error(error: grants.OAuthError) -> Response:
    headers = dict(NO_STORE)
    if error.status_code == 401:
        headers["WWW-Authenticate"] = 'Basic realm="identity"'
    body = {"error": error.error, "error_description": error.description}
    return Response(body, status=error.status_code, headers=headers)


class JwksView(APIView):
    @extend_schema(responses={200: dict})
    def get(self, request: Request) -> Response:
        headers = {"Cache-Control": f"public, max-age={settings.JWKS_MAX_AGE}"}
        return Response(keys.jwks(), headers=headers)


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})
