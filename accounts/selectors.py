"""Reads on accounts, scoped to the asking user."""

from django.db.models import Q, QuerySet

from . import policies
from .models import MerchantOrganisation


def merchant_list_for(user, *, search: str = "") -> QuerySet[MerchantOrganisation]:
    """Merchants a consumer can file against; any signed-in user may search this public directory."""
    if not policies.can_search_merchants(user):
        return MerchantOrganisation.objects.none()
    qs = MerchantOrganisation.objects.all()
    search = (search or "").strip()
    if search:
        qs = qs.filter(Q(legal_name__icontains=search) | Q(country__iexact=search))
    return qs.order_by("legal_name", "id")
