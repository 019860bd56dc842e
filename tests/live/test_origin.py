"""The live connection's same-origin check (issue 18): the page's own address or PUBLIC_BASE_URL."""

from crisis.live.origin import same_origin_check

ALLOWED = same_origin_check("https://krisstod.stockholm.se")


def test_the_public_address_and_the_address_the_request_reached_are_allowed():
    environ = {"HTTP_HOST": "localhost:5000", "wsgi.url_scheme": "http"}
    assert ALLOWED("https://krisstod.stockholm.se", environ)
    assert ALLOWED("http://localhost:5000", environ)


def test_the_address_behind_one_proxy_hop_is_allowed():
    environ = {"HTTP_HOST": "10.0.0.5:8000", "wsgi.url_scheme": "http",
               "HTTP_X_FORWARDED_HOST": "krisstod-test.stockholm.se", "HTTP_X_FORWARDED_PROTO": "https"}
    assert ALLOWED("https://krisstod-test.stockholm.se", environ)


def test_another_site_is_refused():
    environ = {"HTTP_HOST": "localhost:5000", "wsgi.url_scheme": "http"}
    assert not ALLOWED("https://evil.example", environ)
    assert not ALLOWED("http://localhost:5001", environ)
    assert not ALLOWED("https://localhost:5000", environ)  # another scheme is another origin
