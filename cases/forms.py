"""Web forms for cases. Input rules stay in one place: the filing form validates through the API's
``CaseFileInput`` and actions through ``cases.actions``; these classes only render and map errors."""

import datetime as dt

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_countries import countries

from accounts.models import MerchantOrganisation
from odr.errors import flatten_errors

from .api.serializers import CaseFileInput
from .jurisdiction import Contract, Indicator
from .models import Category, Remedy, Status
from .money import currency_codes


def currency_choices():
    return [(code, code) for code in currency_codes()]


#: API field path -> form field name
FILING_FIELDS = {
    "merchant": "merchant",
    "order.reference": "order_reference",
    "order.date": "order_date",
    "order.platform": "order_platform",
    "order.product": "order_product",
    "order.price": "price_amount",
    "order.price.amount": "price_amount",
    "order.price.currency": "price_currency",
    "category": "category",
    "description": "description",
    "remedy": "remedy",
    "claim": "claim_amount",
    "claim.amount": "claim_amount",
    "claim.currency": "claim_currency",
    "language": "language",
    "directing_indicators": "directing_indicators",
    "contract": "contract",
    "odr_agreement": "odr_agreement",
}


class CaseFileForm(forms.Form):
    merchant = forms.TypedChoiceField(label=_("Merchant"), coerce=int, choices=())
    order_reference = forms.CharField(label=_("Order number"), max_length=100)
    order_date = forms.DateField(label=_("Order date"), widget=forms.DateInput(attrs={"type": "date"}))
    order_platform = forms.CharField(
        label=_("Where you bought it"), max_length=100, required=False, help_text=_("The shop's site or marketplace.")
    )
    order_product = forms.CharField(label=_("What you bought"), max_length=300)
    price_amount = forms.CharField(label=_("Price paid"), widget=forms.TextInput(attrs={"inputmode": "decimal"}))
    price_currency = forms.ChoiceField(label=_("Currency of the price"), choices=currency_choices, initial="EUR")
    category = forms.ChoiceField(label=_("What went wrong"), choices=Category.choices)
    remedy = forms.ChoiceField(label=_("What you ask for"), choices=Remedy.choices)
    claim_amount = forms.CharField(label=_("Amount claimed"), widget=forms.TextInput(attrs={"inputmode": "decimal"}))
    claim_currency = forms.ChoiceField(label=_("Currency of the claim"), choices=currency_choices, initial="EUR")
    description = forms.CharField(
        label=_("Describe the problem"),
        widget=forms.Textarea,
        max_length=settings.ODR_MAX_TEXT_LENGTH,
        help_text=_("What happened, when, and what the merchant said. Facts and dates help most."),
    )
    language = forms.ChoiceField(label=_("Language of the case"), choices=settings.LANGUAGES)
    directing_indicators = forms.MultipleChoiceField(
        label=_("What did the shop do to sell to your country?"),
        choices=Indicator.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Tick what applies. It decides whether your own country's courts and law protect you."),
    )
    contract = forms.ChoiceField(
        label=_("Kind of purchase"), choices=Contract.choices, initial=Contract.GOODS, required=False
    )
    odr_agreement = forms.BooleanField(
        label=_("I agree that this platform's procedure decides the dispute if we do not settle"),
        required=False,
        help_text=_("If the merchant agrees too, an arbitrator on this platform decides instead of a court."),
    )

    def __init__(self, *args, merchant_search: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        merchants = MerchantOrganisation.objects.order_by("legal_name", "id")
        if merchant_search:
            merchants = merchants.filter(legal_name__icontains=merchant_search)
        choices = [(m.pk, f"{m.legal_name} ({m.country.name})") for m in merchants[:100]]
        chosen = self.data.get("merchant") if self.is_bound else None
        if chosen and str(chosen).isdigit() and not any(str(pk) == chosen for pk, _label in choices):
            chosen_org = MerchantOrganisation.objects.filter(pk=int(chosen)).first()
            if chosen_org:
                choices.insert(0, (chosen_org.pk, f"{chosen_org.legal_name} ({chosen_org.country.name})"))
        self.fields["merchant"].choices = [("", _("Choose the merchant"))] + choices
        self.validated = None

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        body = {
            "merchant": data["merchant"],
            "order": {
                "reference": data["order_reference"],
                "date": data["order_date"].isoformat(),
                "platform": data.get("order_platform", ""),
                "product": data["order_product"],
                "price": {"amount": data["price_amount"].strip(), "currency": data["price_currency"]},
            },
            "category": data["category"],
            "description": data["description"],
            "remedy": data["remedy"],
            "claim": {"amount": data["claim_amount"].strip(), "currency": data["claim_currency"]},
            "language": data["language"],
            "directing_indicators": data.get("directing_indicators") or [],
            "contract": data.get("contract") or Contract.GOODS,
            "odr_agreement": bool(data.get("odr_agreement")),
        }
        serializer = CaseFileInput(data=body)
        if not serializer.is_valid():
            for path, messages in flatten_errors(serializer.errors).items():
                name = FILING_FIELDS.get(path)
                for message in messages:
                    self.add_error(name, message)
            return data
        self.validated = serializer.validated_data
        return data


class CaseFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), required=False, choices=[("", _("Any"))] + list(Status.choices))
    category = forms.ChoiceField(label=_("Category"), required=False, choices=[("", _("Any"))] + list(Category.choices))
    country = forms.ChoiceField(label=_("Country"), required=False, choices=lambda: [("", _("Any"))] + list(countries))
    created_from = forms.DateField(
        label=_("Filed from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    created_to = forms.DateField(label=_("Filed to"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def selector_filters(self) -> dict:
        """The valid filters as ``selectors.case_list_for`` takes them (dates in the viewer's time zone)."""
        if not self.is_valid():
            return {}
        data = self.cleaned_data
        tz = timezone.get_current_timezone()
        filters = {k: data[k] for k in ("status", "category", "country") if data.get(k)}
        if data.get("created_from"):
            filters["created_from"] = dt.datetime.combine(data["created_from"], dt.time.min, tzinfo=tz)
        if data.get("created_to"):
            filters["created_to"] = dt.datetime.combine(
                data["created_to"] + dt.timedelta(days=1), dt.time.min, tzinfo=tz
            )
        return filters
