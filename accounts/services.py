"""Writes on accounts: registration, accounts made by operators, tokens. Each is one transaction."""

from django.conf import settings
from django.contrib.auth import authenticate, password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from rest_framework.authtoken.models import Token

from odr.errors import DomainError, Forbidden, ValidationFailed

from . import policies
from .models import MerchantOrganisation, Role, User

SELF_REGISTER_ROLES = (Role.CONSUMER, Role.MERCHANT)


def _create(*, email, password, role, display_name, country, time_zone, language, organisation=None):
    user = User(
        email=User.objects.normalize_email(email).lower(),
        role=role,
        display_name=display_name,
        country=country,
        time_zone=time_zone,
        language=language,
        organisation=organisation,
    )
    try:
        password_validation.validate_password(password, user)
    except DjangoValidationError as exc:
        raise ValidationFailed(fields={"password": list(exc.messages)}) from exc
    user.set_password(password)
    try:
        user.full_clean(exclude=["password"])
    except DjangoValidationError as exc:
        raise ValidationFailed(fields=exc.message_dict) from exc
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:
        raise ValidationFailed(fields={"email": [_("An account with this e-mail address already exists.")]}) from exc
    return user


def _create_account(*, role, legal_name, country, time_zone, **fields) -> User:
    """The user, with its merchant organisation when it is a merchant (inside the caller's transaction)."""
    organisation = None
    if role == Role.MERCHANT:
        if not legal_name:
            raise ValidationFailed(fields={"legal_name": [_("A merchant must give its legal name.")]})
        organisation = MerchantOrganisation.objects.create(legal_name=legal_name, country=country, time_zone=time_zone)
    user = _create(role=role, country=country, time_zone=time_zone, organisation=organisation, **fields)
    if role == Role.OPERATOR and not user.is_staff:
        user.is_staff = True  # operators use the admin
        user.save(update_fields=["is_staff"])
    return user


@transaction.atomic
def user_register(*, email, password, role, display_name, country, time_zone, language, legal_name=None) -> User:
    """Self-service sign-up of a consumer or a merchant; a merchant also creates its organisation."""
    if role not in SELF_REGISTER_ROLES:
        raise ValidationFailed(fields={"role": [_("Only consumers and merchants can register themselves.")]})
    return _create_account(
        email=email, password=password, role=role, display_name=display_name, country=country,
        time_zone=time_zone, language=language, legal_name=legal_name,
    )  # fmt: skip


@transaction.atomic
def user_create(
    *,
    email,
    password,
    role,
    display_name="",
    country="IE",
    time_zone="UTC",
    language="en",
    legal_name=None,
    acting_user=None,
) -> User:
    """An account made by an operator (API) or from the command line (``acting_user=None``).

    Operators create mediators, arbitrators and other operators; merchants get an organisation.
    """
    if acting_user is not None and not policies.can_create_accounts(acting_user):
        raise Forbidden()
    if role not in Role.values:
        raise ValidationFailed(fields={"role": [_("Unknown role.")]})
    return _create_account(
        email=email, password=password, role=role, display_name=display_name, country=country,
        time_zone=time_zone, language=language, legal_name=legal_name,
    )  # fmt: skip


class InvalidCredentials(DomainError):
    status_code = 400
    code = "invalid_credentials"


def token_issue(*, email, password, request=None) -> str:
    """The API token of the user with these credentials, created on first use.

    ``request`` lets django-axes count the attempt against the account and the client address.
    """
    user = authenticate(request, username=(email or "").lower(), password=password)
    if user is None or not user.is_active:
        raise InvalidCredentials(_("Unable to log in with these credentials."))
    token, _created = Token.objects.get_or_create(user=user)
    return token.key


@transaction.atomic
def user_update_profile(*, user, display_name, country, time_zone, language) -> User:
    """Change the user's own profile: name, country, time zone and language."""
    user.display_name, user.country, user.time_zone, user.language = display_name, country, time_zone, language
    try:
        user.full_clean(exclude=["password", "email"])
    except DjangoValidationError as exc:
        raise ValidationFailed(fields=exc.message_dict) from exc
    user.save(update_fields=["display_name", "country", "time_zone", "language"])
    return user


@transaction.atomic
def user_set_language(*, user, language) -> None:
    """Remember the language the user chose with the switch."""
    if language not in [code for code, _name in settings.LANGUAGES]:
        raise ValidationFailed(fields={"language": [_("Unsupported language.")]})
    User.objects.filter(pk=user.pk).update(language=language)
