"""/metrics: valid Prometheus text that counts answers, bytes by encoding, shares, bundle."""

from __future__ import annotations

import io
import json

from prometheus_client.parser import text_string_to_metric_families

from kiosk.app import create_app
from kiosk.metrics import Exposition
from tests.fakebundle import make_bundle
from tests.sharing_helpers import make_notebook

JSON = {"Content-Type": "application/json"}


async def scrape(client) -> dict[str, dict[tuple, float]]:
    resp = await client.get("/metrics")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    text = await resp.text()
    out: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


async def test_metrics_counts_requests_bytes_shares_and_bundle(aiohttp_client, make_config):
    config = make_config()
    make_bundle(config.bundles_path)
    client = await aiohttp_client(create_app(config))

    before = await scrape(client)
    assert before["kiosk_shares"][()] == 0
    assert before["kiosk_bundle_ok"][()] == 1
    info = before["kiosk_bundle_info"]
    assert list(info.values()) == [1]
    assert dict(next(iter(info)))["name"] == "fake-1"
    assert before["kiosk_process_resident_memory_bytes"][()] > 10 * 1024 * 1024
    assert before["kiosk_uptime_seconds"][()] >= 0

    js = "/build/main.0123456789abcdef0123.js"
    resp = await client.get(js, headers={"Accept-Encoding": "br"}, auto_decompress=False)
    assert resp.status == 200 and resp.headers["Content-Encoding"] == "br"
    br_len = len(await resp.read())
    resp = await client.get(js, headers={"Accept-Encoding": "gzip"}, auto_decompress=False)
    assert resp.headers["Content-Encoding"] == "gzip"
    gz_len = len(await resp.read())
    assert (await client.get("/no/such/file")).status == 404

    token = (await (await client.post("/api/v1/auth/issue", headers=JSON)).json())["token"]
    resp = await client.post("/api/v1/notebooks",
                             headers={**JSON, "Authorization": f"Bearer {token}"},
                             data=io.BytesIO(json.dumps({"notebook": make_notebook()}).encode()))
    assert resp.status == 201

    after = await scrape(client)
    requests = after["kiosk_http_requests_total"]
    assert requests[(("code", "2xx"), ("method", "GET"))] >= 3  # scrape + 2 files
    assert requests[(("code", "4xx"), ("method", "GET"))] == 1
    assert requests[(("code", "2xx"), ("method", "POST"))] == 2
    sent = after["kiosk_http_response_bytes_total"]
    prior = before.get("kiosk_http_response_bytes_total", {})
    assert sent[(("encoding", "br"),)] - prior.get((("encoding", "br"),), 0) == br_len
    assert sent[(("encoding", "gzip"),)] - prior.get((("encoding", "gzip"),), 0) == gz_len
    assert after["kiosk_shares"][()] == 1


async def test_metrics_without_bundle(aiohttp_client, make_config):
    client = await aiohttp_client(create_app(make_config()))
    data = await scrape(client)
    assert data["kiosk_bundle_ok"][()] == 0
    assert "kiosk_bundle_info" not in data


def test_metrics_label_values_are_escaped():
    out = Exposition()
    out.family("x_info", "gauge", "odd labels", [({"v": 'a"b\\c\nd'}, 1)])
    [family] = text_string_to_metric_families(out.text())
    assert family.samples[0].labels == {"v": 'a"b\\c\nd'}
