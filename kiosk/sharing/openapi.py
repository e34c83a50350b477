"""The OpenAPI 3.1 document of ``/api/v1``, served at ``/api/v1/openapi.json``.

Written by hand from the JE code's behaviour (their own file is stale). A test walks
the app's routes and this document and fails if they differ, and validates real
answers against the schemas here.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kiosk import __version__
from kiosk.urls import API_PREFIX

PREFIX = API_PREFIX


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json_body(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    texts = {
        400: "The body is not JSON, or a field is wrong (PUT: the notebook is not valid).",
        401: "No token, or a bad or expired one.",
        403: "The notebook belongs to another session.",
        404: "No such notebook.",
        409: "The Idempotency-Key was used for a different request.",
        413: "The notebook is larger than the limit (10 MiB by default).",
        415: "The body is not sent as application/json.",
        422: "The notebook is not a valid nbformat v4 notebook.",
        429: "Too many requests from this device; see Retry-After.",
        507: "The kiosk's storage is almost full.",
    }
    return {str(s): _json_body(_ref("Error"), texts[s]) for s in statuses}


_BEARER: list[dict[str, list[str]]] = [{"bearer": []}]
_IDEMPOTENCY = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "description": "Makes the request exactly-once: a repeated key (same session, same "
                   "request) gets the first answer again for 24 hours.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
}


def _id_param(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "string"}}


_NOTEBOOK_ID = _id_param("notebook_id", "The notebook's UUID (a readable id works too).")
_READABLE_ID = _id_param("readable_id", "The readable id, e.g. brave-sunny-otter-482; case, "
                         "surrounding spaces and a trailing .ipynb are ignored.")


def document() -> dict[str, Any]:
    """The whole OpenAPI document (a fresh dict each call)."""
    saved = {"201": _json_body(_ref("Saved"), "Stored (fsynced) before this answer.")}
    updated = {"200": _json_body(_ref("Saved"), "Updated.")}
    retrieved = {"200": _json_body(_ref("Retrieved"), "The notebook.")}
    put_body = {"required": True, "content": {"application/json": {"schema": _ref("Notebook")}}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Kiosk sharing API (Jupyter Everywhere compatible)",
            "version": __version__,
            "description": "The sharing API of Jupyter Everywhere, served by the classroom "
                           "kiosk on the LAN. See docs/api.md.",
        },
        "servers": [{"url": PREFIX}],
        "paths": {
            "/health": {"get": {
                "summary": "Is the service up?", "security": [],
                "responses": {"200": _json_body(_ref("Health"), "Up.")},
            }},
            "/openapi.json": {"get": {
                "summary": "This document.", "security": [],
                "responses": {"200": _json_body({"type": "object"}, "OpenAPI 3.1.")},
            }},
            "/auth/issue": {"post": {
                "summary": "Get a token for a new session (or, with a notebook's password, "
                           "one that may update that notebook).",
                "security": [],
                "requestBody": {"required": False, "content": {"application/json": {
                    "schema": _ref("IssueRequest")}}},
                "responses": {"200": _json_body(_ref("Token"), "A token."),
                              **_errors(400, 401, 415, 429)},
            }},
            "/auth/refresh": {"post": {
                "summary": "Exchange a valid token for a fresh one of the same session.",
                "security": [],
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": _ref("RefreshRequest")}}},
                "responses": {"200": _json_body(_ref("Token"), "A new token."),
                              **_errors(400, 401, 415)},
            }},
            "/notebooks": {"post": {
                "summary": "Share a notebook (the body wraps it).",
                "security": _BEARER, "parameters": [_IDEMPOTENCY],
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": _ref("CreateRequest")}}},
                "responses": {**saved,
                              **_errors(400, 401, 409, 413, 415, 422, 429, 507)},
            }},
            "/notebooks/{notebook_id}": {
                "get": {"summary": "Get a notebook by UUID.", "security": _BEARER,
                        "parameters": [_NOTEBOOK_ID],
                        "responses": {**retrieved, **_errors(401, 404)}},
                "put": {"summary": "Replace a notebook (the body is the bare notebook).",
                        "security": _BEARER, "parameters": [_NOTEBOOK_ID, _IDEMPOTENCY],
                        "requestBody": put_body,
                        "responses": {**updated,
                                      **_errors(400, 401, 403, 404, 409, 413, 415, 507)}},
            },
            "/notebooks/get-by-readable-id/{readable_id}": {"get": {
                "summary": "Get a notebook by readable id.", "security": _BEARER,
                "parameters": [_READABLE_ID],
                "responses": {**retrieved, **_errors(401, 404)},
            }},
            "/notebooks/update-by-readable-id/{readable_id}": {"put": {
                "summary": "Replace a notebook found by readable id.", "security": _BEARER,
                "parameters": [_READABLE_ID, _IDEMPOTENCY], "requestBody": put_body,
                "responses": {**updated, **_errors(400, 401, 403, 404, 409, 413, 415, 507)},
            }},
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "bearerFormat": "JWT"}},
            "schemas": _schemas(),
        },
    }


def _schemas() -> dict[str, Any]:
    uuid = {"type": "string", "format": "uuid",
            "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"}
    readable = {"type": ["string", "null"], "description": "e.g. brave-sunny-otter-482"}
    return {
        "Notebook": {
            "type": "object", "required": ["cells", "metadata", "nbformat", "nbformat_minor"],
            "description": "An nbformat v4 notebook (validated against its JSON schema).",
            "properties": {"cells": {"type": "array"}, "metadata": {"type": "object"},
                           "nbformat": {"const": 4},
                           "nbformat_minor": {"type": "integer", "minimum": 0}},
        },
        "CreateRequest": {
            "type": "object", "required": ["notebook"],
            "properties": {"notebook": _ref("Notebook"),
                           "password": {"type": "string", "maxLength": 72,
                                        "description": "Lets auth/issue unlock updates."}},
        },
        "IssueRequest": {
            "type": "object",
            "properties": {"notebookId": {"type": "string"}, "password": {"type": "string"}},
        },
        "RefreshRequest": {"type": "object", "required": ["token"],
                           "properties": {"token": {"type": "string"}}},
        "Token": {"type": "object", "required": ["token"], "additionalProperties": False,
                  "properties": {"token": {"type": "string"}}},
        "Saved": {
            "type": "object", "required": ["message", "notebook"], "additionalProperties": False,
            "properties": {
                "message": {"type": "string"},
                "notebook": {
                    "type": "object", "required": ["id", "readable_id", "domain_id"],
                    "additionalProperties": False,
                    "properties": {"id": uuid, "readable_id": readable,
                                   "domain_id": {"type": "string"}},
                },
            },
        },
        "Retrieved": {
            "type": "object", "required": ["id", "domain_id", "readable_id", "content"],
            "additionalProperties": False,
            "properties": {"id": uuid, "domain_id": {"type": "string"},
                           "readable_id": readable, "content": _ref("Notebook")},
        },
        "Health": {
            "type": "object", "required": ["status"],
            "properties": {"status": {"const": "OK"}, "message": {"type": "string"},
                           "service": {"type": "string"}, "version": {"type": "string"},
                           "domain_id": {"type": "string"}, "timestamp": {"type": "string"}},
        },
        "Error": {
            "type": "object", "required": ["error_code", "message", "status"],
            "properties": {"error_code": {"type": "string"}, "message": {"type": "string"},
                           "status": {"type": "integer"}},
        },
    }


async def openapi_json(request: web.Request) -> web.Response:
    """``GET /api/v1/openapi.json``."""
    return web.json_response(document())


def routes() -> list[web.RouteDef]:
    return [web.get(f"{PREFIX}/openapi.json", openapi_json, allow_head=False)]
