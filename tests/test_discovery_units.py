"""Discovery without a network: interface choice, damping, names, TXT, URLs, pages."""

from __future__ import annotations

import asyncio
import shlex
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import pytest
from aiohttp.test_utils import make_mocked_request
from zeroconf import IPVersion

from kiosk.app import create_app
from kiosk.csp import inline_script_hashes, script_hash
from kiosk.discovery import txt_for
from kiosk.discovery.announcer import zeroconf_interfaces
from kiosk.discovery.banner import banner_text, secret_command
from kiosk.discovery.interfaces import InterfaceAddresses, all_addresses, choose
from kiosk.discovery.keys import DISCOVERY_STATUS
from kiosk.discovery.monitor import AddressMonitor, Damper
from kiosk.discovery.names import (
    MAX_LABEL_BYTES,
    candidate_names,
    instance_label,
    numbered,
    truncate_utf8,
    txt_properties,
)
from kiosk.discovery.pages import render_poster
from kiosk.discovery.status import DiscoveryStatus, PeerKiosk
from kiosk.keys import RUNTIME, SERVING_HOOKS
from kiosk.qr import wifi_payload
from kiosk.secrets import admin_secret_path
from kiosk.templating import Templates
from kiosk.urls import ip_urls, reachable_addresses, url_for, usable_in_qr, viewer_url


def _a(family, address):
    return SimpleNamespace(family=family, address=address)


V4, V6, PKT = socket.AF_INET, socket.AF_INET6, getattr(socket, "AF_PACKET", 17)
ADDRS = {
    "lo": [_a(V4, "127.0.0.1"), _a(V6, "::1")],
    "eth0": [_a(V4, "192.0.2.10"), _a(V6, "2001:db8::10"), _a(V6, "fe80::1%eth0"),
             _a(PKT, "aa:bb:cc:dd:ee:ff")],
    "wlan0": [_a(V4, "198.51.100.5")],
    "docker0": [_a(V4, "172.17.0.1")],
    "br-1234": [_a(V4, "172.18.0.1")],
    "veth12": [_a(V4, "10.0.0.1")],
    "end0": [_a(V6, "fe80::2%end0")],
    "usb0": [_a(V4, "203.0.113.9")],
    "eth1": [_a(V4, "203.0.113.20")],  # down
    "wlan1": [_a(PKT, "11:22:33:44:55:66")],  # no address
}
STATS = {name: SimpleNamespace(isup=name != "eth1") for name in ADDRS}


def test_default_choice_is_physical_interfaces_only():
    chosen = choose(ADDRS, STATS, (), {"eth0": 2})
    assert [i.name for i in chosen] == ["eth0", "wlan0", "end0", "usb0"]
    eth0 = chosen[0]
    assert eth0 == InterfaceAddresses("eth0", 2, ("192.0.2.10",), ("2001:db8::10",),
                                      ("fe80::1",))
    assert chosen[2].ipv4 == () and chosen[2].ipv6_link_local == ("fe80::2",)


def test_configured_names_and_patterns_replace_the_filter():
    assert [i.name for i in choose(ADDRS, STATS, ("veth*",))] == ["veth12"]
    assert [i.name for i in choose(ADDRS, STATS, ("wlan0", "eth0"))] == ["wlan0", "eth0"]
    # Explicitly named: still never a loopback address, nor a down interface.
    assert choose(ADDRS, STATS, ("lo",)) == ()
    assert choose(ADDRS, STATS, ("eth1",)) == ()
    assert [i.name for i in choose(ADDRS, STATS, ("docker0",))] == ["docker0"]


def test_all_addresses_puts_ipv4_first():
    chosen = choose(ADDRS, STATS, ("eth0", "wlan0"))
    assert all_addresses(chosen) == ["192.0.2.10", "198.51.100.5", "2001:db8::10", "fe80::1"]


def test_zeroconf_interfaces():
    v4 = (InterfaceAddresses("eth0", 2, ("192.0.2.1",)),)
    assert zeroconf_interfaces(v4) == (["192.0.2.1"], IPVersion.V4Only)
    both = (InterfaceAddresses("eth0", 2, ("192.0.2.1",), (), ("fe80::1",)),)
    assert zeroconf_interfaces(both) == (["192.0.2.1", 2], IPVersion.All)
    v6 = (InterfaceAddresses("eth0", 3, (), ("2001:db8::1",)),)
    assert zeroconf_interfaces(v6) == ([3], IPVersion.V6Only)


def test_damper_needs_two_equal_polls():
    a = (InterfaceAddresses("eth0", 1, ("192.0.2.1",)),)
    b = (InterfaceAddresses("eth0", 1, ("192.0.2.2",)),)
    c = (InterfaceAddresses("eth0", 1, ("192.0.2.3",)),)
    damper = Damper(a)
    assert damper.observe(b) is False  # seen once
    assert damper.observe(c) is False  # flapped: start again
    assert damper.observe(a) is False  # back to current: nothing to do
    assert damper.observe(b) is False
    assert damper.observe(b) is True
    assert damper.current == b
    assert damper.observe(b) is False


async def test_monitor_reports_stable_changes_and_stops():
    a = (InterfaceAddresses("eth0", 1, ("192.0.2.1",)),)
    b = (InterfaceAddresses("eth0", 1, ("192.0.2.2",)),)
    feed = [a, b, b, b]
    seen = []

    def scanner():
        return feed.pop(0) if len(feed) > 1 else feed[0]

    async def on_change(snapshot):
        seen.append(snapshot)

    monitor = AddressMonitor(interval=0.01, scanner=scanner)
    monitor.subscribe(on_change)
    assert await monitor.start() == a
    for _ in range(200):
        if seen:
            break
        await asyncio.sleep(0.01)
    await monitor.stop()
    assert seen == [b]
    assert not [t for t in asyncio.all_tasks()
                if t.get_name() == "kiosk-discovery-address-monitor"]


def test_names_stay_within_one_label():
    assert list(candidate_names("lab", 3)) == ["lab", "lab-2", "lab-3"]
    long = "a" * 63
    assert numbered(long, 2) == "a" * 61 + "-2"
    assert len(numbered(long, 12).encode()) == MAX_LABEL_BYTES
    assert numbered("a" * 60 + "-bc", 10) == "a" * 60 + "-10"  # no "--"
    assert instance_label("Room 4.1 kiosk") == "Room 4 1 kiosk"
    assert len(instance_label("é" * 40).encode()) <= 63
    assert truncate_utf8("aé", 2) == "a"


def test_txt_values_over_230_bytes_are_blanked(caplog):
    props = txt_properties({"path": "/", "long": "x" * 231, "ok": "y" * 230, "none": None})
    assert props == {"path": "/", "long": "", "ok": "y" * 230}
    assert "longer than 230 bytes" in caplog.text


def test_kiosk_txt(make_config):
    txt = txt_for(make_config(name="lab-3"), "abc123")
    assert txt == {"id": "abc123", "name": "lab-3", "version": txt["version"], "path": "/",
                   "api": "/api/v1", "sync": "off", "scheme": "http"}


@pytest.mark.parametrize(("ssid", "password", "expected"), [
    ("Lab", "secret", "WIFI:T:WPA;S:Lab;P:secret;;"),
    ('a;b,c:d"e\\f', 'p;w"', 'WIFI:T:WPA;S:a\\;b\\,c\\:d\\"e\\\\f;P:p\\;w\\";;'),
    ("Open", None, "WIFI:T:nopass;S:Open;;"),
])
def test_wifi_payload_escaping(ssid, password, expected):
    assert wifi_payload(ssid, password) == expected


def test_ip_urls_order_and_filter():
    urls = ip_urls(["fe80::1", "2001:db8::5", "169.254.3.4", "192.0.2.1", "127.0.0.1",
                    "192.0.2.1", "::ffff:198.51.100.2"], 8000)
    assert urls == ["http://192.0.2.1:8000/", "http://198.51.100.2:8000/",
                    "http://169.254.3.4:8000/", "http://[2001:db8::5]:8000/"]
    assert ip_urls(["192.0.2.1"], 80) == ["http://192.0.2.1/"]
    assert ip_urls(["192.0.2.1"], 443, "https") == ["https://192.0.2.1/"]
    assert url_for("kiosk.local", 8000) == "http://kiosk.local:8000/"
    assert not usable_in_qr("fe80::1%eth0")
    assert not usable_in_qr("0.0.0.0")


def test_reachable_addresses_follow_the_listen_address():
    addrs = ["192.0.2.1", "2001:db8::1"]
    assert reachable_addresses("0.0.0.0", addrs) == ["192.0.2.1"]
    assert reachable_addresses("::", addrs) == addrs
    assert reachable_addresses("127.0.0.1", addrs) == ["127.0.0.1"]
    assert reachable_addresses("192.0.2.1", addrs) == ["192.0.2.1"]


def _request(app, sockname, secure=False):
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda key, default=None: (
        sockname if key == "sockname" else default)
    req = make_mocked_request("GET", "/join", app=app, transport=transport)
    if secure:
        req = req.clone(scheme="https")
    return req


def test_viewer_url_uses_the_interface_the_viewer_came_through(make_config):
    app = create_app(make_config())
    app[RUNTIME].urls = ["http://192.0.2.1:8000/"]
    assert viewer_url(_request(app, ("198.51.100.7", 8000))) == "http://198.51.100.7:8000/"
    assert viewer_url(_request(app, ("::ffff:198.51.100.7", 8000, 0, 0))) == (
        "http://198.51.100.7:8000/")
    assert viewer_url(_request(app, ("2001:db8::7", 8443, 0, 0), secure=True)) == (
        "https://[2001:db8::7]:8443/")
    # On the kiosk itself (projector browser on localhost) or by link-local IPv6:
    # the kiosk's first LAN URL, never loopback or .local.
    assert viewer_url(_request(app, ("127.0.0.1", 8000))) == "http://192.0.2.1:8000/"
    assert viewer_url(_request(app, ("fe80::1%2", 8000, 0, 2))) == "http://192.0.2.1:8000/"
    app[RUNTIME].urls = []
    assert viewer_url(_request(app, ("127.0.0.1", 8000))) == "http://127.0.0.1:8000/"


def test_banner_lists_ip_urls_first_then_local():
    text = banner_text(name="lab", ip_urls=["http://192.0.2.1:8000/"],
                       local_url="http://lab.local:8000/", loopback_url=None)
    lines = text.splitlines()
    assert lines[1].strip() == "http://192.0.2.1:8000/"
    assert lines[2].strip().startswith("http://lab.local:8000/")
    assert "Scan to open http://192.0.2.1:8000/" in text
    assert "█" in text
    no_net = banner_text(name="lab", ip_urls=[], local_url=None,
                         loopback_url="http://127.0.0.1:8000/")
    assert "no network address" in no_net and "█" not in no_net


def test_poster_is_a4_svg_with_escaped_text():
    svg = render_poster(Templates().load(), name="<lab>", url="http://192.0.2.1:8000/",
                        ssid="A&B", password="p<w>")
    assert 'width="210mm" height="297mm"' in svg
    assert "&lt;lab&gt;" in svg and "A&amp;B" in svg and "p&lt;w&gt;" in svg
    assert svg.count("<path") == 2
    assert ".local" not in svg


def test_status_as_dict_is_plain():
    status = DiscoveryStatus(enabled=True, requested_name="lab", host_name="lab-2.local")
    status.peers["x"] = PeerKiosk(service="x", name="other", addresses=["192.0.2.9"])
    data = status.as_dict()
    assert data["renamed"] is True
    assert data["peers"][0]["name"] == "other"


def test_setup_adds_hook_status_and_routes(make_config):
    app = create_app(make_config(mdns_enabled=True))
    assert app[DISCOVERY_STATUS].enabled is True
    assert len(app[SERVING_HOOKS]) >= 1
    names = {r.name for r in app.router.routes() if r.name}
    assert {"join", "join_json", "join_poster"} <= names


async def test_join_pages_in_process(aiohttp_client, make_config):
    app = create_app(make_config(wifi_ssid="Lab", wifi_password="pw"))
    client = await aiohttp_client(app)
    resp = await client.get("/join")
    assert resp.status == 200
    csp = resp.headers["Content-Security-Policy"]
    page = await resp.text()
    # One inline script (the poller), allowed by the hash of its rendered text; no path.
    assert inline_script_hashes(page) == [script_hash(page.split("<script>")[1]
                                                      .split("</script>")[0])]
    assert f"script-src {inline_script_hashes(page)[0]};" in csp
    assert "'self'" not in csp.split("script-src")[1].split(";")[0]
    assert "connect-src 'self'" in csp
    assert "Password: <strong>pw</strong>" in page
    data = await (await client.get("/join.json")).json()
    assert data["url"].startswith("http://127.0.0.1:")
    assert data["local_url"] is None  # mDNS is off in this config
    poster = await client.get("/join/poster.svg")
    assert poster.headers["Content-Type"].startswith("image/svg+xml")
    assert "join_script" not in {r.name for r in app.router.routes()}  # no script file


async def test_hook_without_mdns_prints_banner_and_leaves_no_task(make_config, capsys):
    from kiosk.discovery import discovery_hook

    app = create_app(make_config(host="0.0.0.0", interfaces=("eth*", "en*", "wl*")))
    app[RUNTIME].port = 8123
    out = ""
    async with discovery_hook(app):
        for _ in range(200):
            out += capsys.readouterr().out
            if "Students open" in out:
                break
            await asyncio.sleep(0.02)
        assert "Kiosk 'testkiosk' is serving" in out
        assert ".local" not in out  # mDNS is off: IP URLs only
        status = app[DISCOVERY_STATUS]
        assert app[RUNTIME].urls == status.urls
        assert all(":8123/" in url for url in status.urls)
    leftovers = [t.get_name() for t in asyncio.all_tasks()
                 if t.get_name().startswith("kiosk-discovery")]
    assert leftovers == []


# -- several links, conflicts after start, peers ------------------------------------


def test_keeps_name_is_the_rfc_tie_break_and_symmetric():
    from kiosk.discovery.conflicts import keeps_name

    assert keeps_name(["198.51.100.3"], ["198.51.100.1"]) is True
    assert keeps_name(["198.51.100.1"], ["198.51.100.3"]) is False
    # Byte order, not text order: .10 is later than .9.
    assert keeps_name(["192.0.2.10"], ["192.0.2.9"]) is True
    # IPv4 decides when both have it; IPv6 otherwise; nothing to compare: give way.
    assert keeps_name(["192.0.2.2", "fe80::1"], ["192.0.2.1", "fe80::9"]) is True
    assert keeps_name(["fe80::9"], ["192.0.2.1", "fe80::1"]) is True
    assert keeps_name([], ["192.0.2.1"]) is False
    for a, b in [(["192.0.2.1"], ["192.0.2.2"]), (["fe80::1"], ["fe80::2"])]:
        assert keeps_name(a, b) != keeps_name(b, a)  # exactly one side keeps it


def _address_update(name, address, ttl=120):
    import ipaddress

    from zeroconf import RecordUpdate
    from zeroconf._dns import DNSAddress

    ip = ipaddress.ip_address(address)
    record = DNSAddress(name, 1 if ip.version == 4 else 28, 1, ttl, ip.packed)
    return RecordUpdate(record, None)


def test_claim_watcher_sees_foreign_answers_and_goodbyes():
    from kiosk.discovery.conflicts import ClaimWatcher

    alarms = []
    watcher = ClaimWatcher(lambda: {"192.0.2.1"}, lambda: alarms.append(1))
    watcher.set_current("lab.local.")
    watcher.async_update_records(None, 1000, [_address_update("lab.local.", "192.0.2.1")])
    assert alarms == []  # our own answer
    watcher.async_update_records(None, 2000, [_address_update("other.local.", "192.0.2.7")])
    assert alarms == [] and watcher.seen_since("other.local.", 0) == []  # not watched
    watcher.async_update_records(None, 3000, [_address_update("LAB.local.", "192.0.2.7")])
    assert alarms == [1]
    assert sorted(watcher.seen_since("lab.local.", 0)) == ["192.0.2.1", "192.0.2.7"]
    assert watcher.seen_since("lab.local.", 2500) == ["192.0.2.7"]
    watcher.async_update_records(None, 4000, [_address_update("lab.local.", "192.0.2.7", 0)])
    assert watcher.seen_since("lab.local.", 2500) == []  # its goodbye withdrew the claim
    watcher.watch("lab-2.local.")
    watcher.async_update_records(None, 5000, [_address_update("lab-2.local.", "192.0.2.1")])
    assert watcher.seen_since("lab-2.local.", 0) == ["192.0.2.1"]


def test_claim_watcher_notices_a_goodbye_for_a_shared_ptr():
    from zeroconf import RecordUpdate
    from zeroconf._dns import DNSPointer

    from kiosk.discovery.conflicts import ClaimWatcher

    clobbered = []
    watcher = ClaimWatcher(set, services=lambda: {"lab._jupyter-kiosk._tcp.local."},
                           on_clobbered=lambda: clobbered.append(1))
    ptr = DNSPointer("_jupyter-kiosk._tcp.local.", 12, 1, 0, "lab._jupyter-kiosk._tcp.local.")
    other = DNSPointer("_jupyter-kiosk._tcp.local.", 12, 1, 0, "x._jupyter-kiosk._tcp.local.")
    live = DNSPointer("_jupyter-kiosk._tcp.local.", 12, 1, 4500, "lab._jupyter-kiosk._tcp.local.")
    watcher.async_update_records(None, 0, [RecordUpdate(other, None), RecordUpdate(live, None)])
    assert clobbered == []
    watcher.async_update_records(None, 0, [RecordUpdate(ptr, None)])
    assert clobbered == [1]


def test_peer_url_and_status_summary():
    peer = PeerKiosk(service="b._jupyter-kiosk._tcp.local.", name="b", host="b.local.",
                     addresses=["fe80::1", "2001:db8::2", "192.0.2.9"], port=8123,
                     txt={"id": "x", "path": "/", "version": "1.0"})
    assert peer.url == "http://192.0.2.9:8123/"
    assert PeerKiosk(service="s", name="n", addresses=["192.0.2.9"], port=443,
                     txt={"scheme": "https", "path": "/lab"}).url == "https://192.0.2.9/lab"
    assert PeerKiosk(service="s", name="n", addresses=["fe80::1"], port=80).url is None
    status = DiscoveryStatus(enabled=True, requested_name="a", host_name="a-2.local",
                             conflicts=["a.local is also answered by 192.0.2.9"])
    status.peers[peer.service] = peer
    summary = status.summary()
    assert summary["renamed"] is True and summary["conflicts"]
    assert summary["peers"] == [{"name": "b", "url": "http://192.0.2.9:8123/",
                                 "host": "b.local.", "addresses": peer.addresses,
                                 "version": "1.0", "id": "x"}]


async def test_status_endpoint_has_the_discovery_section(aiohttp_client, make_config):
    app = create_app(make_config())
    app[DISCOVERY_STATUS].peers["x"] = PeerKiosk(service="x", name="other", port=8000,
                                                 addresses=["192.0.2.9"])
    client = await aiohttp_client(app)
    data = await (await client.get("/api/kiosk/status")).json()
    assert data["discovery"]["peers"][0]["url"] == "http://192.0.2.9:8000/"
    assert data["discovery"]["renamed"] is False


def test_peers_seen_on_two_links_merge():
    from kiosk.discovery.announcer import Announcer
    from kiosk.discovery.responder import LinkResponder

    status = DiscoveryStatus(enabled=True, requested_name="a")
    announcer = Announcer(status, {"id": "me"})
    links = []
    for name, address in [("eth0", "192.0.2.9"), ("wlan0", "198.51.100.9")]:
        link = LinkResponder(InterfaceAddresses(name, 1, ("192.0.2.1",)), set, lambda: None)
        link.peers["b"] = PeerKiosk(service="b", name="b", addresses=[address], port=1)
        links.append(link)
    announcer._links = {link.name: link for link in links}
    announcer._merge_peers()
    assert status.peers["b"].addresses == ["192.0.2.9", "198.51.100.9"]
    assert links[0].peers["b"].addresses == ["192.0.2.9"]  # the links' own lists untouched
    del links[1].peers["b"]
    links[0].peers.clear()
    announcer._merge_peers()
    assert status.peers == {}


class _FakeLink:
    """Stands in for a LinkResponder: who answers for which host name is scripted."""

    def __init__(self, name, addresses, answers):
        self.name = name
        self.addresses = addresses
        self.answers = answers  # host → addresses answering (ours included when registered)
        self.infos = []
        self.peers = {}
        self.registered = []

    async def claimants(self, host, wait, *, stop_at_first=False):
        return list(self.answers.get(host, []))

    async def register(self, label, port, txt):
        self.registered.append(label)
        self.infos = [SimpleNamespace(name=f"{label}.{t}", type=t) for t in txt]
        return self.infos

    async def unregister(self):
        self.infos = []


async def _contested_announcer(mine, theirs):
    from kiosk.discovery.announcer import Announcer

    status = DiscoveryStatus(enabled=True, requested_name="lab")
    announcer = Announcer(status, {"id": "me"}, check_interval=30)
    link = _FakeLink("eth0", [mine], {"lab.local.": [mine, theirs],
                                      "lab-2.local.": []})
    announcer._links = {"eth0": link}
    announcer._port = 8000
    announcer._label = "lab"
    await link.register("lab", 8000, announcer._txt)
    return announcer, link, status


async def test_late_clash_the_lower_address_renames_at_once():
    announcer, link, status = await _contested_announcer("192.0.2.1", "192.0.2.9")
    await announcer.check_now()
    assert link.registered == ["lab", "lab-2"]
    assert status.host_name == "lab-2.local" and status.renamed
    assert "renamed from" in status.conflicts[-1] and "192.0.2.9" in status.conflicts[-1]


async def test_late_clash_the_higher_address_keeps_then_gives_way():
    announcer, link, status = await _contested_announcer("192.0.2.9", "192.0.2.1")
    clock = [1000.0]
    announcer._clock = lambda: clock[0]
    await announcer.check_now()
    await announcer.check_now()
    assert link.registered == ["lab"]  # kept: the other kiosk should rename
    assert len(status.conflicts) == 1 and "keeping the name" in status.conflicts[0]
    clock[0] += 89  # three 30 s intervals not yet over
    await announcer.check_now()
    assert link.registered == ["lab"]
    clock[0] += 2  # the other device never renamed: give way
    await announcer.check_now()
    assert link.registered == ["lab", "lab-2"]
    assert "does not rename" in status.conflicts[-1]


async def test_late_clash_gone_resets_the_wait():
    announcer, link, _status = await _contested_announcer("192.0.2.9", "192.0.2.1")
    clock = [1000.0]
    announcer._clock = lambda: clock[0]
    await announcer.check_now()
    link.answers["lab.local."] = ["192.0.2.9"]  # the other kiosk renamed
    clock[0] += 60
    await announcer.check_now()
    link.answers["lab.local."] = ["192.0.2.9", "192.0.2.1"]  # a new clash, a new wait
    clock[0] += 60
    await announcer.check_now()
    assert link.registered == ["lab"]


async def test_rename_never_takes_back_the_name_given_up():
    """The kiosk that lost the tie-break moves on even if nobody answers the re-probe of
    the old name: the winner may just be silent (one multicast per record per second,
    RFC 6762 §6), and taking the name back left two kiosks with one name."""
    announcer, link, status = await _contested_announcer("192.0.2.1", "192.0.2.9")

    async def unregister():
        link.infos = []
        link.answers["lab.local."] = []  # the winner stays silent for a moment

    link.unregister = unregister
    await announcer.check_now()
    assert link.registered == ["lab", "lab-2"]
    assert status.host_name == "lab-2.local"


def test_banner_names_the_teachers_pages_and_the_secret_command():
    command = "/opt/kiosk/venv/bin/kiosk admin secret --data-dir /var/lib/kiosk"
    text = banner_text(name="lab", ip_urls=["http://192.0.2.1:8000/"],
                       local_url="http://lab.local:8000/", loopback_url=None,
                       secret_command=command)
    lines = [line.strip() for line in text.splitlines()]
    assert "join page for the projector (QR codes): http://192.0.2.1:8000/join" in lines
    assert "A4 poster to print: http://192.0.2.1:8000/join/poster.svg" in lines
    assert "dashboard: http://192.0.2.1:8000/admin" in lines
    assert f"its admin secret: {command}" in lines
    # The QR code still follows "Scan to open" and holds the student URL.
    assert lines.index("Scan to open http://192.0.2.1:8000/") > lines.index(
        f"its admin secret: {command}")
    offline = banner_text(name="lab", ip_urls=[], local_url=None,
                          loopback_url="http://127.0.0.1:8000/")
    assert "join page for the projector (QR codes): http://127.0.0.1:8000/join" in offline


def test_secret_command_names_the_running_executable_and_data_dir(tmp_path):
    exe = Path(sys.executable).parent / "kiosk"
    data = tmp_path / "data dir"
    command = secret_command(data, argv0=str(exe), under_systemd=False)
    assert command == shlex.join([str(exe.resolve()), "admin", "secret", "--data-dir",
                                  str(data.resolve())])
    # It really prints the secret the dashboard checks (the same file).
    out = subprocess.run(shlex.split(command), capture_output=True, text=True, check=True,
                         env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    secret = out.stdout.strip()
    assert len(secret) >= 32
    assert admin_secret_path(data).read_text().strip() == secret
    as_module = secret_command(data, argv0="/x/kiosk/__main__.py", under_systemd=False)
    assert as_module.startswith(shlex.join([sys.executable, "-m", "kiosk"]))
    service = secret_command(data, argv0=str(exe), under_systemd=True, user="kiosk", euid=998)
    assert service == "sudo -u kiosk " + command
    assert secret_command(data, argv0=str(exe), under_systemd=True, euid=0) == command
