"""Installable: the manifest, the root-scoped service worker and the device page (issue 16, item 1)."""

from tests.conftest import login


def test_manifest_names_the_app_in_swedish_and_starts_at_my_tasks(client):
    response = client.get("/manifest.webmanifest")
    assert response.status_code == 200
    assert response.mimetype == "application/manifest+json"
    body = response.get_json()
    assert body["name"] == "Krisstöd"
    assert body["lang"] == "sv"
    assert body["start_url"] == "/me/tasks"
    assert body["display"] == "standalone"
    sizes = {(icon["sizes"], icon["purpose"]) for icon in body["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes
    for icon in body["icons"]:
        image = client.get(icon["src"])
        assert image.status_code == 200 and image.mimetype == "image/png"
        assert image.data[:8] == b"\x89PNG\r\n\x1a\n"


def test_service_worker_is_served_from_the_root_and_never_stale(client):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response.mimetype in {"text/javascript", "application/javascript"}
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["Service-Worker-Allowed"] == "/"
    script = response.get_data(as_text=True)
    for part in ("/static/js/sw-offline.js", "/static/js/sw-push.js"):
        assert part in script
        assert client.get(part).status_code == 200


def test_every_page_links_the_manifest_and_registers_the_worker(client):
    page = client.get("/login").get_data(as_text=True)
    assert 'rel="manifest" href="/manifest.webmanifest"' in page
    assert "/static/js/pwa.js" in page


def test_device_page_needs_a_login_and_is_in_swedish(client, create_user):
    assert client.get("/me/device").status_code in (302, 401)
    user = create_user("outreach")
    login(client, user.email)
    page = client.get("/me/device").get_data(as_text=True)
    assert "Den här enheten" in page
    assert 'id="push-settings"' in page and 'id="offline-queue"' in page


def test_files_leave_the_session_cookie_alone_and_pages_still_refresh_it(client, create_user):
    """A style sheet or the service worker answering after a login step must not put back an older
    session cookie (one without the CSRF token the step just added): files never send the cookie."""
    user = create_user("outreach")
    login(client, user.email)
    for path in ("/static/css/app.css", "/static/js/pwa.js", "/sw.js", "/manifest.webmanifest"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "Set-Cookie" not in response.headers, path
    assert "Set-Cookie" in client.get("/me/device").headers  # pages keep the idle timeout moving
