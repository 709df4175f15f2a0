"""Who may do what with notifications and webhooks."""


def can_manage_webhooks(user) -> bool:
    return bool(user and user.is_authenticated and user.role == "merchant" and user.organisation_id)
