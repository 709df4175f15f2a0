"""Who may do what with accounts."""

from .models import Role


def can_create_accounts(user) -> bool:
    return bool(user and user.is_authenticated and user.role == Role.OPERATOR)


def can_search_merchants(user) -> bool:
    return bool(user and user.is_authenticated)
