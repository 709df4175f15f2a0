"""Web pages for accounts: sign-up, log-in, log-out, profile, the language switch. Thin over services."""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from odr.errors import DomainError, error_body
from odr.forms import apply_domain_error

from . import services
from .forms import LoginForm, ProfileForm, SignupForm


def home(request):
    if request.user.is_authenticated:
        return redirect("case-list")
    return render(request, "home.html")


def signup(request):
    form = SignupForm(request.POST or None, initial={"language": translation.get_language(), "time_zone": "UTC"})
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_register(**form.cleaned_data)
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, _("Welcome! Your account is ready."))
            return redirect("home")
    return render(request, "accounts/signup.html", {"form": form})


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True


@login_required
def profile(request):
    user = request.user
    initial = {f: getattr(user, f) for f in ("display_name", "country", "time_zone", "language")}
    initial["country"] = str(user.country)
    form = ProfileForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.user_update_profile(user=user, **form.cleaned_data)
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            translation.activate(user.language)
            messages.success(request, _("Your profile is saved."))
            response = redirect("profile")
            response.set_cookie("django_language", user.language, samesite="Lax")
            return response
    return render(request, "accounts/profile.html", {"form": form})


@require_POST
def set_language(request):
    """The language switch: a cookie for everyone, and the profile of a signed-in user."""
    language = request.POST.get("language", "")
    next_url = request.POST.get("next") or "/"
    safe = url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    if not safe:
        next_url = "/"
    response = HttpResponseRedirect(next_url)
    if translation.check_for_language(language):
        if request.user.is_authenticated:
            services.user_set_language(user=request.user, language=language)
        response.set_cookie("django_language", language, samesite="Lax", httponly=False)
    return response


def locked_out(request, credentials=None, *args, **kwargs):
    """django-axes' answer to a locked-out log-in: the API's error shape under /api/, a page elsewhere."""
    message = _("Too many failed log-in attempts. Try again later or reset your password.")
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("too_many_login_attempts", message), status=429)
    return render(request, "accounts/locked_out.html", {"message": message}, status=429)
