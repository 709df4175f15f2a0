"""Password reset by e-mail, through the pages a user would click."""

import re

from django.core import mail
from django.test import Client

from tests.factories import PASSWORD


def test_reset_link_by_email_sets_a_new_password(cast):
    client = Client()
    page = client.get("/accounts/password-reset/")
    assert page.status_code == 200
    sent = client.post("/accounts/password-reset/", {"email": cast.consumer.email})
    assert sent.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [cast.consumer.email]
    link = re.search(r"https?://[^/]+(/accounts/password-reset/\S+/)", message.body).group(1)

    form = client.get(link, follow=True)
    assert form.status_code == 200
    set_url = form.redirect_chain[-1][0] if form.redirect_chain else link
    done = client.post(set_url, {"new_password1": "A-brand-new-pass-77", "new_password2": "A-brand-new-pass-77"})
    assert done.status_code == 302

    fresh = Client()
    old = fresh.post("/accounts/login/", {"username": cast.consumer.email, "password": PASSWORD})
    assert old.status_code == 200  # the form again: the old password no longer works
    logged_in = fresh.post("/accounts/login/", {"username": cast.consumer.email, "password": "A-brand-new-pass-77"})
    assert logged_in.status_code == 302


def test_unknown_address_gets_the_same_answer_and_no_mail(db):
    client = Client()
    sent = client.post("/accounts/password-reset/", {"email": "nobody@example.test"})
    assert sent.status_code == 302
    assert mail.outbox == []
