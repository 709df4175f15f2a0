"""Helpers shared by the web forms."""

from odr.errors import DomainError


def apply_domain_error(form, exc: DomainError) -> None:
    """Show a service's refusal on the form: field errors on their fields, the rest on the form."""
    placed = False
    for field, errors in (exc.fields or {}).items():
        name = field if field in form.fields else None
        for error in errors if isinstance(errors, list | tuple) else [errors]:
            form.add_error(name, str(error))
            placed = True
    if not placed:
        form.add_error(None, str(exc.message))
