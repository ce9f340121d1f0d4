"""The tickets page over HTTP: rows, filters, order, detail, Solve, errors."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from pipeline.models import UTC, TicketRecord
from pipeline.storage import Connection
from tests.functional.api.conftest import csrf_token, page_post, serve


@pytest.fixture
def page(ticket_conn: Connection) -> Iterator[TestClient]:
    with serve(ticket_conn) as client:
        yield client


def row_apps(html: str) -> list[str]:
    return re.findall(r'<div class="where">([^ ]+) ·', html)


def ticket_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'data-ticket-id="(\d+)"', html)]


def test_root_and_tickets_list_every_ticket_newest_first(page: TestClient) -> None:
    for path in ("/", "/tickets"):
        response = page.get(path)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        assert row_apps(response.text) == ["nova", "web", "glance"]
    html = page.get("/").text
    assert "Instance failed to spawn again" in html  # the latest occurrence's message
    assert "3 minutes ago" in html and "3 hours ago" in html  # nova last / first seen
    assert html.count("<polyline points=") == 3
    assert '<span class="level level-error">ERROR</span>' in html
    assert "3 tickets" in html


def test_sparkline_rises_in_the_hours_with_occurrences(page: TestClient) -> None:
    html = page.get("/tickets", params={"app": "nova"}).text
    points = re.search(r'<polyline points="([^"]+)"', html)
    assert points is not None
    heights = [float(p.split(",")[1]) for p in points.group(1).split()]
    assert len(heights) == 24
    assert heights[-1] < heights[0]  # this hour had an occurrence, 23 hours ago none
    assert max(heights) == heights[0]  # flat baseline for empty hours


@pytest.mark.parametrize(("params", "expected"), [
    ({"app": "web"}, ["web"]),
    ({"level": "error"}, ["nova", "web"]),
    ({"status": "solved"}, []),
    ({"order_by": "-occurrence_count"}, ["nova", "glance", "web"]),
    ({"order_by": "level"}, ["glance", "nova", "web"]),
    ({"page": 2}, []),
])
def test_filters_and_order(page: TestClient, params: dict[str, object],
                           expected: list[str]) -> None:
    response = page.get("/tickets", params=params)
    assert response.status_code == 200
    assert row_apps(response.text) == expected


def test_filter_form_keeps_the_chosen_values(page: TestClient) -> None:
    html = page.get("/tickets", params={"status": "open", "level": "warning"}).text
    assert '<option value="open" selected>' in html
    assert '<option value="warning" selected>' in html


def test_detail_shows_latest_occurrences_and_the_traceback(page: TestClient) -> None:
    nova = ticket_ids(page.get("/tickets", params={"app": "nova"}).text)[0]
    html = page.get(f"/tickets/{nova}").text
    assert html.count('<section class="occurrence">') == 3
    assert "<pre><code>Traceback (most recent call last):" in html
    assert "RuntimeError: no valid host" in html
    assert "nova.compute/x.py:14" in html


def test_solve_button_posts_and_redirects_back(page: TestClient) -> None:
    glance = ticket_ids(page.get("/tickets", params={"app": "glance"}).text)[0]
    response = page_post(page, f"/tickets/{glance}/solve",
                         params={"next": "/tickets?app=glance"}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/tickets?app=glance"
    html = page.get(f"/tickets/{glance}").text
    assert '<span class="status status-solved" id="status">solved</span>' in html
    assert 'class="solve"' not in html
    assert row_apps(page.get("/tickets", params={"status": "solved"}).text) == ["glance"]


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "\\\\evil"])
def test_solve_never_redirects_off_site(page: TestClient, target: str) -> None:
    web = ticket_ids(page.get("/tickets", params={"app": "web"}).text)[0]
    response = page_post(page, f"/tickets/{web}/solve", params={"next": target},
                         follow_redirects=False)
    assert response.headers["location"] == f"/tickets/{web}"


@pytest.mark.parametrize(("method", "path", "params", "status", "text"), [
    ("get", "/tickets", {"status": "closed"}, 400, "status must be one of"),
    ("get", "/tickets", {"level": "loud"}, 400, "unknown level"),
    ("get", "/tickets", {"order_by": "1; DROP TABLE ticket"}, 400, "cannot order tickets"),
    ("get", "/tickets", {"page": 0}, 400, "page must be between"),
    ("get", "/tickets/424242", {}, 404, "424242"),
    ("post", "/tickets/424242/solve", {}, 404, "424242"),
])
def test_bad_requests_get_an_error_page(page: TestClient, method: str, path: str,
                                        params: dict[str, object], status: int,
                                        text: str) -> None:
    data = {"csrf_token": csrf_token(page.get("/tickets").text)} if method == "post" else None
    response = page.request(method, path, params=params, data=data, follow_redirects=False)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert text in response.text


def test_stylesheet_is_served(page: TestClient) -> None:
    response = page.get("/static/style.css")
    assert response.status_code == 200 and ".tickets" in response.text


def test_pages_of_25_with_links_that_keep_the_filters(ticket_conn: Connection) -> None:
    now = dt.datetime.now(UTC)
    ticket_conn.record_tickets([  # type: ignore[attr-defined]
        TicketRecord(f"{n:040x}", "bulk", now - dt.timedelta(minutes=n), 14, "bulk.chan",
                     f"bulk.py:{n}", "bulk", {"message": f"bulk {n}"})
        for n in range(30)
    ])
    with serve(ticket_conn) as client:
        first = client.get("/tickets", params={"app": "bulk"}).text
        assert len(row_apps(first)) == 25 and "page 1 of 2" in first
        link = re.search(r'<a rel="next" href="([^"]+)"', first)
        assert link is not None and "app=bulk" in link.group(1)
        second = client.get(link.group(1).replace("&amp;", "&")).text
        assert len(row_apps(second)) == 5 and "page 2 of 2" in second
        assert 'rel="next"' not in second and 'rel="prev"' in second
        assert "bulk 29" in second  # the oldest last


def test_column_headers_sort_and_toggle_direction(page: TestClient) -> None:
    html = page.get("/tickets", params={"app": "nova"}).text
    link = re.search(r'<a class="sort" href="([^"]+)">Events', html)
    assert link is not None
    href = link.group(1).replace("&amp;", "&")
    assert "order_by=-occurrence_count" in href and "app=nova" in href
    sorted_html = page.get(href).text
    assert row_apps(sorted_html) == ["nova"]
    again = re.search(r'<a class="sort" href="([^"]+)">Events ↓', sorted_html)
    assert again is not None and "order_by=occurrence_count" in again.group(1)
