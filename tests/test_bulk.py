"""``odr.bulk.insert_many``: the hot paths' insert (a chat batch's messages, events with their chain heads)."""

from decimal import Decimal

import pytest

from mediation.models import ChatMessage, Offer
from odr.bulk import insert_many
from tests.conftest import require_postgres
from tests.factories import Cast, case_in

pytestmark = pytest.mark.django_db


def mediation_case():
    cast = Cast.make()
    return cast, case_in("mediation", cast)


def test_rows_read_back_as_given_and_each_object_gets_its_own_id():
    cast, case = mediation_case()
    authors = [cast.consumer, cast.merchant, cast.mediator, cast.consumer]
    messages = [
        ChatMessage(case=case, room="joint", author=who, role=who.role, body=f"body {n} «ü»")
        for n, who in enumerate(authors)
    ]
    insert_many(messages, ("case", "room", "author", "role", "body", "sent_at"))
    stored = {m.pk: m for m in ChatMessage.objects.filter(case=case)}
    assert sorted(stored) == sorted(m.pk for m in messages) and len(stored) == 4
    for message in messages:
        row = stored[message.pk]
        assert (row.author_id, row.role, row.body, row.sent_at) == (
            message.author_id,
            message.role,
            message.body,
            message.sent_at,
        )
        assert not message._state.adding


def test_a_column_django_would_convert_is_refused_on_postgresql():
    require_postgres()
    cast, case = mediation_case()
    offer = Offer(case=case, party="consumer", made_by=cast.consumer, amount=Decimal("1.5"), currency="EUR")
    with pytest.raises(TypeError, match="Offer.amount"):
        insert_many([offer], ("case", "party", "made_by", "amount", "currency", "remedy"))
    assert not Offer.objects.filter(case=case).exists()
