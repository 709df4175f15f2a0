"""Web forms for accounts; every write still goes through accounts.services."""

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _
from django_countries import countries

from .models import Role
from .validators import available_time_zones


def time_zone_choices():
    return [(tz, tz.replace("_", " ")) for tz in sorted(available_time_zones())]


class LoginForm(AuthenticationForm):
    username = forms.EmailField(
        label=_("E-mail address"), widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "username"})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["password"].widget.attrs["autocomplete"] = "current-password"

    def clean_username(self):
        return self.cleaned_data["username"].lower()


class ProfileForm(forms.Form):
    display_name = forms.CharField(label=_("Display name"), max_length=120)
    country = forms.ChoiceField(label=_("Country"), choices=lambda: list(countries))
    time_zone = forms.ChoiceField(label=_("Time zone"), choices=time_zone_choices)
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)


class SignupForm(ProfileForm):
    role = forms.ChoiceField(
        label=_("I am"),
        choices=[(Role.CONSUMER, _("a consumer with a complaint")), (Role.MERCHANT, _("a merchant"))],
        widget=forms.RadioSelect,
        initial=Role.CONSUMER,
    )
    email = forms.EmailField(label=_("E-mail address"), max_length=254)
    password = forms.CharField(
        label=_("Password"), widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}), strip=False
    )
    legal_name = forms.CharField(
        label=_("Legal name of the business"),
        max_length=200,
        required=False,
        help_text=_("Merchants only: the name consumers know you by."),
    )
    field_order = ["role", "email", "password", "display_name", "legal_name", "country", "time_zone", "language"]

    def clean(self):
        data = super().clean()
        if data.get("role") == Role.MERCHANT and not data.get("legal_name"):
            self.add_error("legal_name", _("A merchant must give its legal name."))
        return data
