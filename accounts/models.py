"""Users (logging in by e-mail, with a role, country, time zone and language) and merchant organisations."""

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField

from .validators import validate_language, validate_time_zone


class Role(models.TextChoices):
    CONSUMER = "consumer", _("Consumer")
    MERCHANT = "merchant", _("Merchant")
    MEDIATOR = "mediator", _("Mediator")
    ARBITRATOR = "arbitrator", _("Arbitrator")
    OPERATOR = "operator", _("Operator")


NEUTRAL_ROLES = (Role.MEDIATOR, Role.ARBITRATOR)


class MerchantOrganisation(models.Model):
    """A shop or seller that consumers file against; its users answer for it."""

    legal_name = models.CharField(_("legal name"), max_length=200)
    country = CountryField(_("country of establishment"))
    time_zone = models.CharField(_("time zone"), max_length=64, validators=[validate_time_zone])
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["legal_name", "id"]
        indexes = [models.Index(fields=["legal_name"])]
        verbose_name = _("merchant organisation")

    def __str__(self):
        return f"{self.legal_name} ({self.country})"


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create(self, email, password, **fields):
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **fields):
        fields.setdefault("is_staff", False)
        fields.setdefault("is_superuser", False)
        return self._create(email, password, **fields)

    def create_superuser(self, email, password=None, **fields):
        fields.update(is_staff=True, is_superuser=True)
        fields.setdefault("role", Role.OPERATOR)
        fields.setdefault("country", "IE")
        fields.setdefault("time_zone", "UTC")
        return self._create(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A person using the platform. Logs in by e-mail; sees times in ``time_zone`` and pages in ``language``."""

    email = models.EmailField(_("e-mail address"), unique=True)
    display_name = models.CharField(_("display name"), max_length=120, blank=True)
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.CONSUMER)
    country = CountryField(_("country"))
    time_zone = models.CharField(_("time zone"), max_length=64, default="UTC", validators=[validate_time_zone])
    language = models.CharField(_("language"), max_length=16, default="en", validators=[validate_language])
    organisation = models.ForeignKey(
        MerchantOrganisation,
        verbose_name=_("merchant organisation"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="users",
    )
    is_active = models.BooleanField(_("active"), default=True)
    is_staff = models.BooleanField(_("staff status"), default=False)
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["id"]
        verbose_name = _("user")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role="merchant", organisation__isnull=False) | ~models.Q(role="merchant"),
                name="merchant_has_organisation",
            ),
        ]

    def __str__(self):
        return self.display_name or self.email

    @property
    def is_operator(self) -> bool:
        return self.role == Role.OPERATOR
