"""Checking that a webhook request really comes from Twilio.

Twilio signs the exact URL it requested plus the POST parameters with the
account auth token (HMAC-SHA1, header `X-Twilio-Signature`). Behind a proxy
or TLS terminator the app sees another URL than Twilio used, so the URL must
be rebuilt from what the public saw: either `PUBLIC_BASE_URL` + path + query
string, or the request URL once ProxyFix has applied the X-Forwarded-*
headers (docs/architecture.md "Twilio webhooks"). The comparison itself is
Twilio's `RequestValidator`, which also compares in constant time.
"""

from __future__ import annotations

from urllib.parse import quote

from twilio.request_validator import SIGNATURE_HEADER, RequestValidator

# Characters RFC 3986 allows unescaped in a path; everything else was
# percent-encoded by the client and decoded by the WSGI server.
_PATH_SAFE = "/-._~!$&'()*+,;=:@"


def public_request_url(flask_request, public_base_url: str | None = None) -> str:
    """The URL Twilio requested, as it must be signed.

    `public_base_url` is what precedes the app's own root (scheme, host and any
    prefix the proxy strips without telling the app); without it the scheme
    and host are the request's own, as ProxyFix left them. The path and the
    query string are taken percent-encoded as on the wire: Werkzeug's
    `request.url` decodes non-ASCII query values, which Twilio did not sign.
    """
    if public_base_url:
        base = public_base_url.rstrip("/")
    else:
        base = f"{flask_request.scheme}://{flask_request.host}"
    url = base + quote(flask_request.script_root + flask_request.path, safe=_PATH_SAFE)
    query = flask_request.query_string.decode("latin-1")
    if query:
        url += "?" + query
    return url


def verify_twilio_request(
    flask_request, auth_token: str, public_base_url: str | None = None
) -> bool:
    """True when `X-Twilio-Signature` matches the request; False when missing or wrong."""
    signature = flask_request.headers.get(SIGNATURE_HEADER)
    if not signature or not auth_token:
        return False
    url = public_request_url(flask_request, public_base_url)
    if "bodySHA256" in flask_request.args:
        # JSON-bodied webhooks sign the URL (which carries the body hash) and
        # the validator checks the raw body against that hash.
        params: object = flask_request.get_data(as_text=True)
    elif flask_request.method == "POST":
        params = flask_request.form
    else:
        # GET webhooks carry their parameters in the signed URL only.
        params = {}
    return RequestValidator(auth_token).validate(url, params, signature)
