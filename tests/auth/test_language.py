"""The login page speaks the language last chosen on this browser, Swedish by default (issue 18)."""

from tests.conftest import csrf_token, login


def test_login_page_is_swedish_by_default_even_for_an_english_browser(client):
    page = client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9"}).get_data(as_text=True)
    assert '<html lang="sv">' in page and "Logga in" in page


def test_chosen_language_survives_logging_out(client, create_user):
    user = create_user("outreach")
    login(client, user.email)
    client.post("/lang/en", data={"csrf_token": csrf_token(client, "/me/tasks"), "next": "/me/tasks"})
    assert '<html lang="en">' in client.get("/me/tasks").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/me/tasks")})
    page = client.get("/login").get_data(as_text=True)
    assert '<html lang="en">' in page and "Log in" in page
    client.post("/lang/sv", data={"csrf_token": csrf_token(client, "/login"), "next": "/login"})
    assert '<html lang="sv">' in client.get("/login").get_data(as_text=True)
