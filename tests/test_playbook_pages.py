def test_manager_reviews_a_playbook_as_a_timeline(client, logged_in):
    logged_in("manager")
    listing = client.get("/playbooks").get_data(as_text=True)
    assert "stockholm-skjutning" in listing
    page = client.get("/playbooks/stockholm-skjutning")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Larma uppsökande team" in text
    assert "Bouppteckning" in text
    assert "Upprätta en krisplan för samverkan vid skjutningar och dödligt våld" in text


def test_unknown_playbook_is_404(client, logged_in):
    logged_in("manager")
    assert client.get("/playbooks/nope").status_code == 404


def test_outreach_cannot_open_playbook_pages(client, logged_in):
    logged_in("outreach")
    assert client.get("/playbooks").status_code == 403
