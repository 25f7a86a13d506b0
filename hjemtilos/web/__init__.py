"""The online referral form (tilmeldingsblanket) for BBU caseworkers."""

__all__ = ["app", "fields"]  # the public modules
